"""Request bodies, validated by msgspec (the one validation library of the project).

Every body (and every object nested in one) is a :class:`hub.core.validation.RequestBody`:
a field it does not declare is a 400 ``validation_error`` naming that field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from hub.core.validation import RequestBody

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(max_length=256)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()-]{5,20}$")]


class RegisterBody(RequestBody):
    email: Email
    password: Password
    name: Name
    role: Literal["customer", "contractor"]
    phone: Phone | None = None


Otp = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class LoginBody(RequestBody):
    email: Email
    password: Password
    otp: Otp | None = None  # required once two-factor sign-in is on


class RefreshBody(RequestBody):
    refresh_token: Token


class TwoFactorCodeBody(RequestBody):
    code: Otp


class SuspendBody(RequestBody):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class ResolveFlagBody(RequestBody):
    resolution: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


# --- trades, contractor profiles, jobs, applications -------------------------------------

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lng = Annotated[float, msgspec.Meta(ge=-180, le=180)]
TradeSlug = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
Cents = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
JobStatus = Literal[
    "open", "assigned", "en_route", "arrived", "in_progress", "completed", "cancelled"
]


class LatLng(RequestBody):
    lat: Lat
    lng: Lng


class ContractorProfileBody(RequestBody):
    trades: Annotated[list[TradeSlug], msgspec.Meta(min_length=1, max_length=50)]
    service_area: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="GeoJSON Polygon or MultiPolygon, or {center: {lat, lng}, radius_km}"
        ),
    ]
    available: bool
    base: LatLng | None = None


class JobBody(RequestBody):
    trade: TradeSlug
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    location: LatLng
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    budget_cents: Cents | None = None
    currency: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{3}$")] = "usd"
    scheduled_for: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class ApplicationBody(RequestBody):
    quote_cents: Cents
    message: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class JobStatusBody(RequestBody):
    status: JobStatus


# --- push notifications ------------------------------------------------------------------

# FCM registration tokens are URL-safe text (about 150-250 characters today); anything with
# other characters, or too short to be one, is refused before it reaches the database.
DeviceToken = Annotated[
    str, msgspec.Meta(min_length=16, max_length=4096, pattern=r"^[A-Za-z0-9_:.\-]+$")
]


class DeviceBody(RequestBody):
    platform: Literal["ios", "android", "web"]
    token: DeviceToken


# --- verification ------------------------------------------------------------------------


class VerifyBody(RequestBody):
    verified: bool


# --- payments ----------------------------------------------------------------------------


class RefundBody(RequestBody):
    amount_cents: Annotated[int, msgspec.Meta(ge=1, le=10**12)] | None = None

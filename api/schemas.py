"""Request bodies, validated by msgspec (the one validation library of the project)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
Password = Annotated[str, msgspec.Meta(max_length=256)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9 ()-]{5,20}$")]


class RegisterBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: Name
    role: Literal["customer", "contractor"]
    phone: Phone | None = None


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class RefreshBody(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Token

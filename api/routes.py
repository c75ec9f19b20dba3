"""Every HTTP route of the hub, with what the OpenAPI document says about it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from api import schemas
from api.handlers import admin as admin_handlers
from api.handlers import auth, chat, contractors, devices, jobs, ops, payments, tracking, trades
from api.handlers import checks as checks_handlers
from hub.chat.payloads import MessageBody

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type | None = None
    public: bool = False
    ok_status: int = 200
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    query: tuple[str, ...] = ()


V1 = "/api/v1"

ROUTES: list[Route] = [
    Route(
        "POST",
        f"{V1}/auth/register",
        auth.register,
        "Create an account",
        "auth",
        schemas.RegisterBody,
        public=True,
        ok_status=201,
        errors=(400, 409, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/login",
        auth.login,
        "Log in",
        "auth",
        schemas.LoginBody,
        public=True,
        errors=(400, 401, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/refresh",
        auth.refresh,
        "Rotate a refresh token",
        "auth",
        schemas.RefreshBody,
        public=True,
        errors=(400, 401, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/logout",
        auth.logout,
        "Revoke a refresh token family",
        "auth",
        schemas.RefreshBody,
        ok_status=204,
        errors=(400, 401),
    ),
    Route("GET", f"{V1}/me", auth.me, "The caller's account", "auth", errors=(401,)),
    # Two-factor sign-in (issue 14).
    Route(
        "POST",
        f"{V1}/auth/2fa/setup",
        auth.two_factor_setup,
        "Start two-factor sign-in: a new TOTP secret, pending until enabled",
        "auth",
        errors=(401, 409, 503),
    ),
    Route(
        "POST",
        f"{V1}/auth/2fa/enable",
        auth.two_factor_enable,
        "Turn two-factor sign-in on with a code of the pending secret",
        "auth",
        schemas.TwoFactorCodeBody,
        ok_status=204,
        errors=(400, 401, 409),
    ),
    Route(
        "POST",
        f"{V1}/auth/2fa/disable",
        auth.two_factor_disable,
        "Turn two-factor sign-in off with a current code",
        "auth",
        schemas.TwoFactorCodeBody,
        ok_status=204,
        errors=(400, 401, 409),
    ),
    Route("GET", "/health", ops.health, "Liveness", "ops", public=True, errors=()),
    Route(
        "GET",
        "/ready",
        ops.ready,
        "Readiness of database and Redis",
        "ops",
        public=True,
        errors=(503,),
    ),
    Route("GET", "/metrics", ops.metrics, "Prometheus metrics", "ops", public=True, errors=()),
    Route("GET", f"{V1}/openapi.json", ops.openapi, "This document", "ops", public=True, errors=()),
    # Trades, contractor profiles, jobs, applications (issue 3).
    Route(
        "GET",
        f"{V1}/trades",
        trades.list_trades,
        "Trade categories",
        "jobs",
        public=True,
        errors=(),
    ),
    Route(
        "PUT",
        f"{V1}/contractors/me",
        contractors.put_me,
        "Save the caller's contractor profile",
        "contractors",
        schemas.ContractorProfileBody,
        errors=(400, 401, 403),
    ),
    Route(
        "GET",
        f"{V1}/contractors/{{id}}",
        contractors.get_profile,
        "A contractor's public profile",
        "contractors",
        errors=(401, 404),
    ),
    Route(
        "POST",
        f"{V1}/jobs",
        jobs.create_job,
        "Post a job",
        "jobs",
        schemas.JobBody,
        ok_status=201,
        errors=(400, 401, 403),
    ),
    Route(
        "GET",
        f"{V1}/jobs",
        jobs.list_jobs,
        "The caller's jobs, newest first",
        "jobs",
        errors=(400, 401, 403),
        query=("limit", "cursor", "offered"),
    ),
    Route("GET", f"{V1}/jobs/{{id}}", jobs.get_job, "A job", "jobs", errors=(401, 404)),
    Route(
        "GET",
        f"{V1}/jobs/{{id}}/matches",
        jobs.job_matches,
        "The job's best matching contractors",
        "jobs",
        query=("limit",),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/applications",
        jobs.apply,
        "Apply to a job",
        "jobs",
        schemas.ApplicationBody,
        ok_status=201,
        errors=(400, 401, 403, 404, 409),
    ),
    Route(
        "GET",
        f"{V1}/jobs/{{id}}/applications",
        jobs.list_applications,
        "The job's applications",
        "jobs",
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/applications/{{app_id}}/accept",
        jobs.accept_application,
        "Accept an application: assign the job",
        "jobs",
        errors=(401, 403, 404, 409),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/status",
        jobs.set_status,
        "Change the job's status",
        "jobs",
        schemas.JobStatusBody,
        errors=(400, 401, 403, 404, 409),
    ),
    # Chat (issue 4): the REST twins of the chat:* socket events.
    Route(
        "GET",
        f"{V1}/conversations",
        chat.list_conversations,
        "The caller's conversations, most recent activity first",
        "chat",
        errors=(401,),
    ),
    Route(
        "GET",
        f"{V1}/conversations/{{id}}/messages",
        chat.list_messages,
        "Messages of a conversation in seq order (the latest page without bounds)",
        "chat",
        errors=(400, 401, 404),
        query=("after_seq", "before_seq", "limit"),
    ),
    Route(
        "POST",
        f"{V1}/conversations/{{id}}/messages",
        chat.post_message,
        "Send a message (idempotent per client_msg_id)",
        "chat",
        MessageBody,
        ok_status=201,
        errors=(400, 401, 404, 413),
    ),
    # Live tracking (issue 5).
    Route(
        "GET",
        f"{V1}/jobs/{{id}}/track",
        tracking.track,
        "Where the job's contractor is: latest point, ETA, breadcrumb",
        "tracking",
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/share",
        tracking.create_share,
        "Make a link anyone can open to watch the job live",
        "tracking",
        ok_status=201,
        errors=(401, 403, 404, 409),
    ),
    Route(
        "DELETE",
        f"{V1}/jobs/{{id}}/share",
        tracking.revoke_shares,
        "Revoke every share link of the job (their viewers are disconnected)",
        "tracking",
        ok_status=204,
        errors=(401, 403, 404),
    ),
    # Push notifications (issue 12).
    Route(
        "POST",
        f"{V1}/devices",
        devices.register_device,
        "Register a push token (again: refreshed; another user's: moved to the caller)",
        "push",
        schemas.DeviceBody,
        ok_status=201,
        errors=(400, 401),
    ),
    Route(
        "DELETE",
        f"{V1}/devices/{{token}}",
        devices.delete_device,
        "Unregister one of the caller's push tokens",
        "push",
        ok_status=204,
        errors=(401, 404),
    ),
    Route(
        "GET",
        f"{V1}/notifications",
        devices.list_notifications,
        "The caller's notifications, newest first",
        "push",
        errors=(400, 401),
        query=("limit", "cursor"),
    ),
    # Verification and background checks (issue 14); 503 unavailable without Checkr.
    Route(
        "POST",
        f"{V1}/admin/contractors/{{id}}/verify",
        checks_handlers.verify,
        "Set or clear a contractor's verified badge by hand (admin)",
        "admin",
        schemas.VerifyBody,
        errors=(400, 401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/admin/contractors/{{id}}/background-check",
        checks_handlers.background_check,
        "Start a background check with Checkr (the pending one if any) (admin)",
        "admin",
        ok_status=202,
        errors=(401, 403, 404, 503),
    ),
    Route(
        "POST",
        f"{V1}/webhooks/checkr",
        checks_handlers.checkr_webhook,
        "Checkr's events, verified by the X-Checkr-Signature header; idempotent by event id",
        "admin",
        public=True,
        errors=(400, 503),
    ),
    # Payments with Stripe Connect (issue 13); 503 unavailable when not configured.
    Route(
        "POST",
        f"{V1}/payments/connect/onboard",
        payments.onboard,
        "Create the contractor's Stripe Express account (once) and a fresh onboarding link",
        "payments",
        errors=(401, 403, 503),
    ),
    Route(
        "GET",
        f"{V1}/payments/connect/status",
        payments.connect_status,
        "The contractor's connected account: can it take charges, receive payouts",
        "payments",
        errors=(401, 403, 503),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/payment",
        payments.start_payment,
        "Hold the accepted quote on the customer's card (201 first, 200 the same intent after)",
        "payments",
        ok_status=201,
        errors=(401, 403, 404, 409, 503),
    ),
    Route(
        "GET",
        f"{V1}/jobs/{{id}}/payment",
        payments.get_payment,
        "The job's payment",
        "payments",
        errors=(401, 403, 404),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/payment/confirm",
        payments.confirm_payment,
        "The customer confirms the work was done: the held payment is captured",
        "payments",
        errors=(401, 403, 404, 409, 503),
    ),
    Route(
        "POST",
        f"{V1}/jobs/{{id}}/payment/refund",
        payments.refund_payment,
        "Refund all of the payment, or amount_cents of it (admin)",
        "payments",
        schemas.RefundBody,
        errors=(400, 401, 403, 404, 409, 503),
    ),
    Route(
        "POST",
        f"{V1}/webhooks/stripe",
        payments.stripe_webhook,
        "Stripe's events, verified by the Stripe-Signature header; idempotent by event id",
        "payments",
        public=True,
        errors=(400, 503),
    ),
    # Administration (issue 14): admins only; in production with two-factor on.
    Route(
        "GET",
        f"{V1}/admin/users",
        admin_handlers.list_users,
        "Users newest first; q searches email and name; role and status filter",
        "admin",
        errors=(400, 401, 403),
        query=("q", "role", "status", "limit", "cursor"),
    ),
    Route(
        "POST",
        f"{V1}/admin/users/{{id}}/suspend",
        admin_handlers.suspend,
        "Suspend a user: tokens die on every node, sockets are disconnected, login refused",
        "admin",
        schemas.SuspendBody,
        errors=(400, 401, 403, 404, 409),
    ),
    Route(
        "POST",
        f"{V1}/admin/users/{{id}}/unsuspend",
        admin_handlers.unsuspend,
        "Give a suspended user access back (revoked tokens stay revoked)",
        "admin",
        errors=(401, 403, 404),
    ),
    Route(
        "GET",
        f"{V1}/admin/jobs",
        admin_handlers.list_jobs,
        "Every job newest first, of one status when given",
        "admin",
        errors=(400, 401, 403),
        query=("status", "limit", "cursor"),
    ),
    Route(
        "GET",
        f"{V1}/admin/stats",
        admin_handlers.stats,
        "Users per role, jobs per status, open sockets across nodes, payment totals",
        "admin",
        errors=(401, 403),
    ),
    Route(
        "GET",
        f"{V1}/admin/flags",
        admin_handlers.list_flags,
        "Chat messages (and background checks) held for review, newest first",
        "admin",
        errors=(400, 401, 403),
        query=("resolved", "limit", "cursor"),
    ),
    Route(
        "POST",
        f"{V1}/admin/flags/{{id}}/resolve",
        admin_handlers.resolve_flag,
        "Mark a flag resolved, with an optional resolution note (audited)",
        "admin",
        schemas.ResolveFlagBody,
        errors=(400, 401, 403, 404),
    ),
    Route(
        "GET",
        f"{V1}/admin/audit",
        admin_handlers.list_audit,
        "The audit log newest first (admin actions and security events)",
        "admin",
        errors=(400, 401, 403),
        query=("action", "limit", "cursor"),
    ),
    Route(
        "GET",
        "/track/{token}",
        tracking.page,
        "The web tracking page of a share link (HTML)",
        "tracking",
        public=True,
        errors=(404, 410),
    ),
    Route(
        "GET",
        "/track/static/{name}",
        tracking.page_asset,
        "Script, style sheet and Socket.IO client of the tracking page",
        "tracking",
        public=True,
        errors=(404,),
    ),
]


def add_routes(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)

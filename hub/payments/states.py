"""The payment status machine, as pure rules (no I/O).

```
requires_payment_method --> authorized --> captured --> partially_refunded --> refunded
          |                     |             |                 |                  |
          +----> cancelled <----+             +-----------> disputed <-------------+
```
Moves only go forward (a later status may be reached directly: Stripe's events arrive in
any order, and ``payment_intent.succeeded`` may be the first one seen), so a late or
repeated event never moves a payment back. Two moves are not in the table because they
are not status changes but actions with their own guard: a partial refund that grows
``refunded_cents`` (``partially_refunded`` stays), and the renewal of a hold close to its
expiry, which replaces the intent (:meth:`hub.payments.settlement.Settlement.renew`), and,
the same way, the restart of a payment whose intent Stripe cancelled while its job goes on
(``POST /jobs/{id}/payment`` again). A
dispute or a refund may be the first news of a capture, so they are reachable from before
it too.
"""

from __future__ import annotations

STATUSES: tuple[str, ...] = (
    "requires_payment_method",
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "cancelled",
    "disputed",
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "requires_payment_method": frozenset(
        {"authorized", "captured", "partially_refunded", "refunded", "cancelled", "disputed"}
    ),
    "authorized": frozenset(
        {"captured", "partially_refunded", "refunded", "cancelled", "disputed"}
    ),
    "captured": frozenset({"partially_refunded", "refunded", "disputed"}),
    "partially_refunded": frozenset({"refunded", "disputed"}),
    "refunded": frozenset({"disputed"}),
    "cancelled": frozenset(),
    "disputed": frozenset(),
}

HOLDING: frozenset[str] = frozenset({"requires_payment_method", "authorized"})
"""Before capture: a cancelled job cancels the intent (the hold is released)."""

CAPTURED: frozenset[str] = frozenset({"captured", "partially_refunded", "refunded", "disputed"})
"""The money moved: refunds are possible (not while disputed: Stripe refuses them)."""


def is_legal(current: str, new: str) -> bool:
    """Whether ``current -> new`` is in the table (a status never moves to itself)."""
    return new in TRANSITIONS.get(current, frozenset())


def from_intent(stripe_status: str) -> str:
    """Our status for a PaymentIntent's ``status``.

    ``requires_confirmation``, ``requires_action`` (3-D Secure) and ``processing`` are the
    app's payment sheet still at work: no card is held yet.
    """
    if stripe_status == "requires_capture":
        return "authorized"
    if stripe_status == "succeeded":
        return "captured"
    if stripe_status == "canceled":
        return "cancelled"
    return "requires_payment_method"


def after_refund(amount_cents: int, refunded_cents: int) -> str:
    """``refunded`` when everything went back, else ``partially_refunded``."""
    return "refunded" if refunded_cents >= amount_cents else "partially_refunded"


def fee_of(amount_cents: int, fee_bps: int) -> int:
    """The platform's fee in minor units: ``fee_bps`` basis points, rounded down (integers
    only: the fee never exceeds the stated rate)."""
    return amount_cents * fee_bps // 10_000

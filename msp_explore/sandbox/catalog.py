"""What the sandbox's test environment offers: gateways, their fees and their test scenarios.

Everything here is data taken from MultiSafepay's testing documentation (msp-api-facts.md, section 5).
A scenario is a sequence of steps ``(delay seconds, status, financial_status)``: the first step applies
when the payment page is submitted, later ones after their delay on the sandbox clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass(frozen=True)
class Scenario:
    key: str  # what the payer picks or types: a scenario name, card number, IBAN
    label: str
    steps: tuple[tuple[int, str, str], ...]
    reason: str = ""

    @property
    def outcome(self) -> str:
        """The order status this scenario ends in."""
        return self.steps[-1][1]


@dataclass(frozen=True)
class Gateway:
    id: str
    description: str
    form: str = "choice"  # choice | card | iban | giftcard | amount: what the payment page asks for
    scenarios: tuple[Scenario, ...] = ()
    fee: tuple[float, float] = (0.29, 0.0)  # fixed amount in units, percentage of the amount
    type: str | None = None  # "coupon" for gift cards, as GET /gateways?include=coupons shows
    direct: bool = True
    refundable: bool = True
    fallback: Scenario | None = None  # for typed input that matches no listed test value
    extra: dict[str, str] = field(default_factory=dict)


def _s(key: str, label: str, *steps: tuple[int, str, str], reason: str = "") -> Scenario:
    return Scenario(key, label, tuple(steps), reason)


PAID = (0, "completed", "completed")
DECLINED = (0, "declined", "declined")
VOID = (0, "void", "void")
EXPIRED = (0, "expired", "expired")
UNCLEARED = (0, "uncleared", "uncleared")


def _banking(*cancel: str) -> tuple[Scenario, ...]:
    completed = _s("completed", "Completed", PAID, reason="SUCCESS")
    cancelled = _s("cancelled", "Cancelled", VOID)
    return (completed, cancelled) if cancel else (completed,)


_IDEAL = (
    _s("success", "Success", PAID, reason="SUCCESS"),
    _s("failure", "Failure", DECLINED, reason="Failure"),
    _s("cancelled", "Cancelled", VOID),
    _s("expired", "Expired", EXPIRED),
)

_3DS_FAILED = "3DS Authentication Failed / Card authentication failed"
_CARDS = {
    "AMEX": (
        _s("374500000000015", "Amex, completed", PAID, reason="SUCCESS"),
        _s("378734493671000", "Amex, uncleared then void", UNCLEARED, (3 * MINUTE, "void", "void")),
        _s("374200000000004", "Amex, declined (3DS failed)", DECLINED, reason=_3DS_FAILED),
    ),
    "MAESTRO": (_s("6799990000000000011", "Maestro, completed", PAID, reason="SUCCESS"),),
    "MASTERCARD": (_s("5500000000000004", "Mastercard, completed", PAID, reason="SUCCESS"),),
    "VISA": (
        _s("4111111111111111", "Visa, completed", PAID, reason="SUCCESS"),
        _s("4761340000000019", "Visa, completed", PAID, reason="SUCCESS"),
        _s("4917300000000008", "Visa, uncleared then void", UNCLEARED, (3 * MINUTE, "void", "void")),
        _s(
            "4462000000000003",
            "Visa, uncleared then completed",
            UNCLEARED,
            (3 * MINUTE, "completed", "completed"),
        ),
        _s("4012001037461114", "Visa, declined (3DS failed)", DECLINED, reason=_3DS_FAILED),
        _s("4012001038488884", "Visa, declined (insufficient funds)", DECLINED, reason="Insufficient funds"),
    ),
}
_CARD_EXPIRED = _s("3ds-not-completed", "3D Secure not completed", EXPIRED)
_ALL_CARDS = tuple(s for brand in ("VISA", "MASTERCARD", "AMEX", "MAESTRO") for s in _CARDS[brand])

_ABNA = "NL87ABNA000000000"
_BANKTRANS = (
    _s(_ABNA + "1", "completed after 2 minutes", (0, "initialized", "initialized"), (2 * MINUTE, *PAID[1:])),
    _s(_ABNA + "2", "expired after 2 minutes", (0, "initialized", "initialized"), (2 * MINUTE, *EXPIRED[1:])),
    _s(
        _ABNA + "4",
        "declined after 2 minutes",
        (0, "initialized", "initialized"),
        (2 * MINUTE, *DECLINED[1:]),
    ),
)
_BANKTRANS_OTHER = _s(
    "other",
    "any other IBAN: expired after 5 days",
    (0, "initialized", "initialized"),
    (5 * DAY, "expired", "expired"),
)
_DIRDEB = (
    _s(_ABNA + "1", "completed after 2 minutes", (0, "uncleared", "initialized"), (2 * MINUTE, *PAID[1:])),
    _s(_ABNA + "2", "declined after 2 minutes", (0, "uncleared", "initialized"), (2 * MINUTE, *DECLINED[1:])),
    _s(
        _ABNA + "3",
        "uncleared, then completed",
        (0, "uncleared", "initialized"),
        (2 * MINUTE, "uncleared", "uncleared"),
        (3 * MINUTE, *PAID[1:]),
    ),
    _s(
        _ABNA + "4",
        "uncleared, then declined",
        (0, "uncleared", "initialized"),
        (2 * MINUTE, "uncleared", "uncleared"),
        (3 * MINUTE, *DECLINED[1:]),
    ),
)
_BNPL = (
    _s("completed", "Approved", (0, "completed", "uncleared"), reason="SUCCESS"),
    _s("declined", "Declined", DECLINED),
)
_GIFTCARDS = (
    _s("111115", "card 111115 (balance 100.00)", PAID),
    _s("111112", "card 111112 (balance 5.00)", PAID),
    _s("111110", "card 111110 (no balance)", PAID),
)
GIFTCARD_BALANCE = {"111115": 10000, "111112": 500, "111110": 0}
_MB_AMOUNT = (
    _s("declined", "amount up to 9.99: declined", DECLINED),
    _s("completed", "amount 10.00 to 20.00: completed", PAID),
    _s(
        "expired",
        "amount above 20.00: expires after 84 hours",
        (0, "initialized", "initialized"),
        (84 * HOUR, "expired", "expired"),
    ),
)

GATEWAYS: dict[str, Gateway] = {
    g.id: g
    for g in [
        Gateway("IDEAL", "iDEAL", scenarios=_IDEAL, fee=(0.29, 0.0)),
        Gateway("VISA", "Visa", "card", _CARDS["VISA"] + (_CARD_EXPIRED,), fee=(0.03, 0.2)),
        Gateway("MASTERCARD", "Mastercard", "card", _CARDS["MASTERCARD"] + (_CARD_EXPIRED,), fee=(0.03, 0.2)),
        Gateway("AMEX", "American Express", "card", _CARDS["AMEX"] + (_CARD_EXPIRED,), fee=(0.03, 2.5)),
        Gateway("MAESTRO", "Maestro", "card", _CARDS["MAESTRO"] + (_CARD_EXPIRED,), fee=(0.03, 0.2)),
        Gateway("CREDITCARD", "Credit card", "card", _ALL_CARDS + (_CARD_EXPIRED,), fee=(0.03, 0.2)),
        Gateway(
            "MISTERCASH",
            "Bancontact",
            "card",
            (
                _s("67034500054620008", "Bancontact, completed", PAID, reason="SUCCESS"),
                _s("67039902990000045", "Bancontact, declined (3DS failed)", DECLINED, reason=_3DS_FAILED),
                _s(
                    "67039902990000011",
                    "Bancontact, declined (insufficient funds)",
                    DECLINED,
                    reason="Insufficient funds",
                ),
            ),
            fee=(0.25, 0.0),
            direct=False,
        ),
        Gateway(
            "BANKTRANS",
            "Bank transfer",
            "iban",
            _BANKTRANS,
            fee=(0.35, 0.0),
            direct=False,
            fallback=_BANKTRANS_OTHER,
        ),
        Gateway("DIRDEB", "SEPA Direct Debit", "iban", _DIRDEB, fee=(0.25, 0.0)),
        Gateway(
            "PAYPAL",
            "PayPal",
            scenarios=(
                _s("approved", "Approved", (0, "completed", "initialized"), reason="SUCCESS"),
                _s("cancelled", "Cancelled", VOID),
                _s("closed", "Closed", EXPIRED),
            ),
            fee=(0.10, 0.0),
        ),
        Gateway("MBWAY", "MB WAY", "amount", _MB_AMOUNT, fee=(0.10, 0.0), refundable=False),
        Gateway("MULTIBANCO", "Multibanco", "amount", _MB_AMOUNT, fee=(0.10, 0.0), refundable=False),
        Gateway(
            "MYBANK",
            "MyBank",
            scenarios=(
                _s(
                    "allianz",
                    "Allianz Bank FA SPA",
                    (0, "initialized", "initialized"),
                    (2 * MINUTE, *PAID[1:]),
                ),
                _s(
                    "cesena",
                    "Banca di Cesena",
                    (0, "initialized", "initialized"),
                    (2 * MINUTE, *DECLINED[1:]),
                ),
                _s(
                    "artigiano",
                    "Credito Artigiano",
                    (0, "initialized", "initialized"),
                    (2 * MINUTE, "cancelled", "cancelled"),
                ),
                _s(
                    "volksbank",
                    "Volksbank - Banca Popolare",
                    (0, "initialized", "initialized"),
                    (2 * MINUTE, *EXPIRED[1:]),
                ),
            ),
            refundable=False,
        ),
        Gateway(
            "BIZUM",
            "Bizum",
            scenarios=(
                _s("success", "Success", PAID, reason="SUCCESS"),
                _s("failure", "Failure", DECLINED),
                _s("cancelled", "Cancelled", DECLINED),
            ),
            refundable=False,
        ),
        Gateway("BELFIUS", "Belfius", scenarios=_banking("cancel")),
        Gateway("CBC", "CBC", scenarios=_banking("cancel")),
        Gateway("KBC", "KBC", scenarios=_banking("cancel")),
        Gateway("DIRECTBANK", "Sofort", scenarios=_banking("cancel")),
        Gateway("TRUSTLY", "Trustly", scenarios=_banking("cancel")),
        Gateway("EPS", "EPS", scenarios=_banking("cancel"), direct=False),
        Gateway("GIROPAY", "Giropay", scenarios=_banking("cancel"), direct=False),
        Gateway("DOTPAY", "Dotpay", scenarios=_banking(), direct=False, refundable=False),
        Gateway("WECHAT", "WeChat Pay", scenarios=_banking()),
        Gateway(
            "ALIPAY",
            "Alipay",
            scenarios=(
                _s("completed", "Completed", (0, "completed", "initialized"), reason="SUCCESS"),
                _s("cancelled", "Cancelled", VOID),
            ),
            refundable=False,
        ),
        Gateway(
            "AMAZONBTN",
            "Amazon Pay",
            scenarios=(_s("completed", "Completed", (0, "completed", "initialized"), reason="SUCCESS"),),
            refundable=False,
        ),
        Gateway("APPLEPAY", "Apple Pay", scenarios=_banking("cancel"), fee=(0.03, 0.2)),
        Gateway("GOOGLEPAY", "Google Pay", scenarios=_banking("cancel"), fee=(0.03, 0.2)),
        Gateway(
            "KLARNA",
            "Klarna",
            scenarios=(
                _s(
                    "completed",
                    "Approved (any phone number, any 6-digit code)",
                    (0, "completed", "uncleared"),
                ),
                _s("void", "Declined in the dashboard", VOID),
            ),
            fee=(0.35, 2.5),
            refundable=False,
        ),
        Gateway(
            "IN3",
            "in3",
            scenarios=(
                _s(
                    "completed",
                    "Birthday 01-01-1999, zip 1234AB, house number 1",
                    (0, "completed", "uncleared"),
                ),
                _s("declined", "Birthday 01-01-2000, zip 1111AB, house number 1", DECLINED),
            ),
            fee=(0.35, 2.5),
        ),
        Gateway(
            "AFTERPAY",
            "Riverty",
            scenarios=(
                _s("completed", "Any customer", (0, "completed", "uncleared")),
                _s("declined", "Email rejection@afterpay.nl", DECLINED),
            ),
            fee=(0.35, 2.5),
            refundable=False,
        ),
        Gateway(
            "BILLINK",
            "Billink",
            scenarios=(
                _s("success", "Success", (0, "completed", "uncleared")),
                _s("failure", "Failure", DECLINED),
                _s("cancelled", "Cancelled", VOID),
            ),
            direct=False,
            refundable=False,
        ),
        Gateway(
            "EINVOICE",
            "E-Invoicing",
            scenarios=(
                _s("uncleared", "Any birthday and account", UNCLEARED),
                _s("void", "Declined in the dashboard", VOID),
            ),
            refundable=False,
        ),
        Gateway(
            "BNPL_MF",
            "Pay After Delivery",
            scenarios=(
                _s("uncleared", "Any birthday and account", UNCLEARED),
                _s("void", "Declined in the dashboard", VOID),
            ),
            refundable=False,
        ),
        Gateway("EDENCOM", "Edenred Ecocheque", scenarios=_banking(), direct=False, refundable=False),
        Gateway(
            "VVVGIFTCRD",
            "VVV Cadeaukaart",
            "giftcard",
            _GIFTCARDS,
            type="coupon",
            direct=False,
            refundable=False,
        ),
        Gateway(
            "WEBSHOPGFT",
            "Webshop Giftcard",
            "giftcard",
            _GIFTCARDS,
            type="coupon",
            direct=False,
            refundable=False,
        ),
        Gateway(
            "BOEKENBON", "Boekenbon", "giftcard", _GIFTCARDS, type="coupon", direct=False, refundable=False
        ),
    ]
}

# Cards: which brand a test card number belongs to, so CREDITCARD payments report the real scheme.
CARD_BRANDS = {s.key: brand for brand, scenarios in _CARDS.items() for s in scenarios}

CURRENCIES = {
    "EUR",
    "USD",
    "GBP",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "RON",
    "BGN",
    "AUD",
    "CAD",
    "JPY",
    "CNY",
    "HKD",
    "ISK",
    "NZD",
    "TRY",
    "ZAR",
    "BRL",
    "MXN",
    "SGD",
    "INR",
    "KRW",
}


def scenario_for_amount(amount: int) -> str:
    """MB WAY and Multibanco decide the test outcome by amount (cents)."""
    if amount <= 999:
        return "declined"
    return "completed" if amount <= 2000 else "expired"


# The legacy iDEAL issuer list, as GET /issuers/ideal answers in the docs' example (idealIssuers.json).
# iDEAL 2.0 picks the bank at iDEAL itself, but older integrations (and the official Node wrapper) still ask.
IDEAL_ISSUERS = (
    ("0031", "ABN AMRO"), ("0751", "SNS Bank"), ("0721", "ING"), ("0021", "Rabobank"), ("0761", "ASN Bank"),
    ("0771", "Regio Bank"), ("0511", "Triodos Bank"), ("0161", "Van Lanschot Bankiers"), ("0801", "Knab"),
    ("1099", "Revolut"), ("4371", "Bunq"), ("1235", "Handelsbanken"),
)  # fmt: skip


def issuers(gateway_id: str) -> list[dict[str, str]] | None:
    """GET /issuers/{gateway}: iDEAL's legacy bank list, or MyBank's banks; None for any other gateway."""
    gateway_id = gateway_id.upper()
    if gateway_id == "IDEAL":
        return [{"code": code, "description": name} for code, name in IDEAL_ISSUERS]
    if gateway_id == "MYBANK":
        return [{"code": s.key, "description": s.label} for s in GATEWAYS["MYBANK"].scenarios]
    return None


def scenario_list() -> list[dict[str, Any]]:
    """Every method's test scenarios as the payment page offers them (GET /sandbox/scenarios)."""

    def view(scenario: Scenario, typed: bool = False) -> dict[str, Any]:
        return {"key": scenario.key, "label": scenario.label, "outcome": scenario.outcome, "typed": typed,
                "longest_delay": max(delay for delay, _, _ in scenario.steps)}  # fmt: skip

    return [
        {"gateway": g.id, "description": g.description, "form": g.form,
         "scenarios": [view(s) for s in g.scenarios] + ([view(g.fallback, typed=True)] if g.fallback else [])}
        for g in GATEWAYS.values() if g.id != "CREDITCARD"
    ]  # fmt: skip


def listed_gateways(include_coupons: bool = False) -> list[dict[str, str]]:
    """The ``data`` of GET /gateways: every method but the generic CREDITCARD, gift cards on request."""
    rows = []
    for g in GATEWAYS.values():
        if g.id == "CREDITCARD" or (g.type == "coupon" and not include_coupons):
            continue
        rows.append({"id": g.id, "description": g.description} | ({"type": g.type} if g.type else {}))
    return rows

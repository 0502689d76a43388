"""How many decimals each currency's minor unit has (ISO 4217): one table for frames, cards and the sandbox.

MultiSafepay amounts are integers in minor units: 1000 is EUR 10.00, but JPY 1000 is 1000 yen.
"""

from __future__ import annotations

# ISO 4217 minor units that are not 2; every other currency code counts as 2 decimals.
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def to_units(amount: int, currency: str) -> float:
    """Minor units to currency units: ``to_units(1000, "EUR") == 10.0``, ``to_units(1000, "JPY") == 1000``."""
    return amount / 10 ** exponent(currency)

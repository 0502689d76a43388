"""Where the client's settings come from: explicit arguments, then the environment, then safe defaults.

The environment is read in exactly one place, ``Settings.from_env()``. The default API is MultiSafepay's
*test* API; the live one is only ever used when asked for by name.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

TEST_API = "https://testapi.multisafepay.com/v1/json"
LIVE_API = "https://api.multisafepay.com/v1/json"
DEFAULT_TIMEOUT = 10.0

_HOSTS = {"testapi.multisafepay.com": "test", "api.multisafepay.com": "live"}


def mask_key(api_key: str | None) -> str:
    """A key as it may be shown: at most its last 4 characters, and none at all of a short key."""
    if not api_key:
        return "<none>"
    # Showing 4 characters of a 6-character key would give most of it away.
    return "****" + api_key[-4:] if len(api_key) >= 16 else "****"


def is_local(url: str) -> bool:
    """Whether a URL points at this machine (localhost or a loopback address): the one loopback rule."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def environment(base_url: str) -> str:
    """Name the environment a base URL points at: "sandbox" (this machine), "test", "live" or "custom"."""
    if is_local(base_url):
        return "sandbox"
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    return _HOSTS.get(host, "custom")


@dataclass(frozen=True, repr=False)
class Settings:
    """The API key, base URL and timeout a ``Client`` uses; the key is masked in the repr.

    Usage::

        >>> Settings.from_env()          # with MSP_API_KEY=... set
        Settings(api_key='****a1b2', base_url='https://testapi.multisafepay.com/v1/json', timeout=10.0)
    """

    api_key: str | None = None
    base_url: str = TEST_API
    timeout: float = DEFAULT_TIMEOUT
    journal: str | None = None  # where a Journal() without a path keeps its file

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``MSP_API_KEY``, ``MSP_BASE_URL`` (default: the test API) and ``MSP_JOURNAL``; empty means unset."""
        env = os.environ if environ is None else environ
        api_key = env.get("MSP_API_KEY", "").strip() or None
        base_url = env.get("MSP_BASE_URL", "").strip().rstrip("/") or TEST_API
        return cls(api_key=api_key, base_url=base_url, journal=env.get("MSP_JOURNAL", "").strip() or None)

    @property
    def environment(self) -> str:
        return environment(self.base_url)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_key={mask_key(self.api_key)!r}, "
            f"base_url={self.base_url!r}, timeout={self.timeout!r})"
        )

"""Settings: explicit values, then the environment, then the test API; the key never shown whole."""

from __future__ import annotations

import dataclasses

import pytest

from msp_explore.config import LIVE_API, TEST_API, Settings, environment, mask_key


def test_defaults_point_at_the_test_api() -> None:
    assert Settings.from_env({}) == Settings(api_key=None, base_url=TEST_API, timeout=10.0)
    assert Settings.from_env({"MSP_API_KEY": "  ", "MSP_BASE_URL": ""}).api_key is None


def test_from_env_reads_the_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_API_KEY", " key-from-the-environment\n")
    monkeypatch.setenv("MSP_BASE_URL", "http://127.0.0.1:5000/v1/json/")
    settings = Settings.from_env()
    assert (settings.api_key, settings.base_url) == ("key-from-the-environment", "http://127.0.0.1:5000/v1/json")
    assert settings.environment == "sandbox"


@pytest.mark.parametrize(
    ("key", "shown"),
    [("KEY-SECRET-123456789", "****6789"), ("short-key", "****"), (None, "<none>"), ("", "<none>")],
)
def test_the_key_is_masked(key: str | None, shown: str) -> None:
    settings = Settings(api_key=key)
    assert mask_key(key) == shown
    assert repr(settings) == f"Settings(api_key={shown!r}, base_url={TEST_API!r}, timeout=10.0)"
    assert str(settings) == repr(settings)
    if key:
        assert key not in repr(settings)


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().api_key = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        (TEST_API, "test"),
        (LIVE_API, "live"),
        ("https://API.multisafepay.com./v1/json", "live"),
        ("http://127.0.0.1:8080/v1/json", "sandbox"),
        ("http://localhost/v1/json", "sandbox"),
        ("http://[::1]:8080/v1/json", "sandbox"),
        ("https://api.multisafepay.com.evil.example/v1/json", "custom"),
    ],
)
def test_environment_names(url: str, name: str) -> None:
    assert environment(url) == name


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 0, True, "5"])
def test_seconds_are_positive_and_finite(value: object) -> None:
    from msp_explore import checks
    from msp_explore.errors import ValidationError

    with pytest.raises(ValidationError):
        checks.seconds("timeout", value)

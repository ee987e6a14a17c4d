"""Access control: Streamlit OIDC (``st.login``) when configured, else DASHBOARD_PASSWORD, else open.

Nothing of the app renders before :func:`require_login` returns True.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import streamlit as st

from bot.settings import Settings

_OK = "_auth_ok"
_FAILURES = "_auth_failures"


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section for ``st.login``."""
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        auth = st.secrets.get("auth")
    except Exception:  # a broken secrets file must not open the app
        return False
    return bool(auth) and bool(auth.get("redirect_uri")) and bool(auth.get("cookie_secret"))


def password_ok(given: str, expected: str) -> bool:
    """Constant-time comparison of the typed password with DASHBOARD_PASSWORD."""
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def require_login(settings: Settings) -> bool:
    """Show a login screen unless the user may see the dashboard; True when they may.

    - OIDC (``st.login``) configured in secrets: the user must be logged in with the provider.
    - Else ``DASHBOARD_PASSWORD`` set: the password must be typed once per browser session
      (failed attempts wait 1, 2, 4 … up to 8 seconds).
    - Else: open (fine on 127.0.0.1; README says to set a password before exposing the port).
    """
    if oidc_configured():
        try:
            import authlib  # noqa: F401  (st.login needs it)
        except ImportError:
            st.title("Trading bot")
            st.error("Login is configured in .streamlit/secrets.toml ([auth]) but Authlib is not installed: "
                     "pip install 'Authlib>=1.3.2', then restart the dashboard.")  # fmt: skip
            return False
        if st.user.is_logged_in:
            return True
        st.title("Trading bot")
        st.write("Log in to see the dashboard.")
        st.button("Log in", on_click=st.login, type="primary")
        return False
    expected = settings.dashboard_password.get_secret_value()
    if not expected or st.session_state.get(_OK):
        return True
    st.title("Trading bot")
    with st.form("login"):
        given = st.text_input("Dashboard password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        if password_ok(given, expected):
            st.session_state[_OK] = True
            st.session_state.pop(_FAILURES, None)
            st.rerun()
        failures = int(st.session_state.get(_FAILURES, 0)) + 1
        st.session_state[_FAILURES] = failures
        time.sleep(min(8, 2 ** (failures - 1)))
        st.error("Wrong password.")
    return False


def logout_button(settings: Settings) -> None:
    """A sidebar log-out button when a login is in force."""
    if oidc_configured():
        if st.user.is_logged_in:
            st.sidebar.button("Log out", on_click=st.logout)
    elif settings.dashboard_password.get_secret_value() and st.session_state.get(_OK) and st.sidebar.button("Log out"):
        st.session_state.pop(_OK, None)
        st.rerun()

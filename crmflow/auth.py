"""Who may use a shared dashboard, and what each may see and change (opt-in).

Without a users file and without an ``[auth]`` section in
``.streamlit/secrets.toml`` nothing here is used: the dashboard is local-only,
as for a single user on their own machine (it listens on 127.0.0.1).

For a team's shared server:

* A **users file** (``CRMFLOW_USERS=path``, TOML or JSON) lists the local
  accounts -- name, role, owner, and the password hashed with Argon2id by
  argon2-cffi (never a hand-written hash) -- and, under ``oidc``, the e-mail
  addresses an identity provider signs in (Streamlit's ``st.login``) with
  their role and owner. Written by ``crmflow users add``::

      {"users": {"wang": {"role": "manager", "owner": "Wang Fang",
                          "password_hash": "$argon2id$..."}},
       "oidc":  {"li@example.com": {"role": "analyst"}}}

* **Roles** (:data:`ROLES`): ``admin`` sees every customer and may upload,
  replace, rename and delete any dataset; ``analyst`` sees every customer
  and may upload, but may replace, rename or delete only the datasets they
  uploaded themselves; ``manager`` is tied to one owner (account manager),
  sees only that owner's customers and changes no dataset.

* **Wrong passwords** get one message that does not say whether the name or
  the password was wrong; after :data:`MAX_FAILURES` failures within
  :data:`WINDOW_SECONDS` the name is refused until the window has passed
  (:class:`Attempts`, per name, shared by all sessions of the process).
  Sign-ins from another machine are also counted per network address
  (:data:`MAX_ADDRESS_FAILURES` within the same window, :data:`ADDRESS_ATTEMPTS`):
  one address cannot try many names either. A browser on the server's own
  machine has no address here (Streamlit's ``st.context.ip_address`` is None
  on the loopback interface) and is limited per name only.
"""

from __future__ import annotations

import json
import os
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmflow.errors import CrmflowError

#: Environment variable naming the users file.
USERS_ENV_VAR = "CRMFLOW_USERS"
ROLES = ("admin", "analyst", "manager")
MAX_FAILURES = 5
#: ``via`` of the audit trail for a change made in the dashboard (crmflow.ui.login.who).
DASHBOARD = "dashboard"
WINDOW_SECONDS = 15 * 60
#: Password checks (Argon2id, slow by design) running at the same time, at most.
MAX_CONCURRENT_CHECKS = 2
#: Failed sign-ins from one network address within WINDOW_SECONDS, whatever the names
#: (several people behind one office router share an address: higher than MAX_FAILURES).
MAX_ADDRESS_FAILURES = 20


@dataclass(frozen=True)
class User:
    """A signed-in person: ``name`` (the local name or the e-mail address),
    ``role`` and, for a manager, the ``owner`` whose customers they see."""

    name: str
    role: str
    owner: str | None = None
    #: How they signed in: "local" (the users file's password) or "oidc" (an identity provider).
    kind: str = "local"

    @property
    def identity(self) -> str:
        """Who they are in the audit trail: ``local:NAME`` or ``oidc:ADDRESS``
        (a local name and an address, or the operating-system user of the
        command line, can never stand for each other)."""
        return f"{self.kind}:{self.name}"

    @property
    def sees_all(self) -> bool:
        return self.role != "manager"

    @property
    def scope_owner(self) -> str | None:
        """The owner every view is narrowed to (None: no narrowing)."""
        return None if self.sees_all else (self.owner or "")

    @property
    def can_upload(self) -> bool:
        return self.role in ("admin", "analyst")

    def can_change(self, uploaded_by: tuple[str, str] | None) -> bool:
        """Whether this user may replace, rename or delete a dataset last
        stored by ``uploaded_by`` -- (actor, via) of its audit row, None:
        unknown (stored before the audit). An analyst only their own: stored
        through the dashboard by this same signed-in identity; never the
        demo, nor what the command line or a dashboard without sign-in
        stored (whatever the operating-system user's name)."""
        if self.role == "admin":
            return True
        return self.role == "analyst" and uploaded_by is not None and \
            tuple(uploaded_by) == (self.identity, DASHBOARD)


# ---------------------------------------------------------------------------- passwords
def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError:  # pragma: no cover - a requirement; told clearly if missing
        raise CrmflowError(key="auth_no_argon2") from None
    return PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (argon2-cffi's recommended parameters, random salt)."""
    if not password:
        raise CrmflowError(key="auth_empty_password")
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a wrong or damaged hash)."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(stored_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: Verified against when the name is unknown, so an unknown name costs the same time as a wrong password.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("crmflow-no-such-user"))
    return _DUMMY_HASH[0]


# ---------------------------------------------------------------------------- the users file
def users_path() -> Path | None:
    value = os.environ.get(USERS_ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def _check_entry(name: str, entry: Any, path: Path) -> dict[str, Any]:
    if not isinstance(entry, dict) or entry.get("role") not in ROLES:
        raise CrmflowError(key="auth_users_bad_entry", name=name, path=str(path), roles=", ".join(ROLES))
    if entry["role"] == "manager" and not str(entry.get("owner") or "").strip():
        raise CrmflowError(key="auth_manager_needs_owner", name=name, path=str(path))
    return entry


def load_users(path: str | os.PathLike | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"users": {name: entry}, "oidc": {email: entry}}`` from a TOML or
    JSON users file (by its extension: ``.toml``, else JSON). A missing file
    is an empty one; a damaged one is one clear error."""
    file = Path(path) if path is not None else users_path()
    if file is None or not file.exists():
        return {"users": {}, "oidc": {}}
    try:
        text = file.read_text(encoding="utf-8")
        doc = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text or "{}")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CrmflowError(key="auth_users_unreadable", path=str(file), detail=type(exc).__name__) from None
    if not isinstance(doc, dict):
        raise CrmflowError(key="auth_users_unreadable", path=str(file), detail="not a table")
    users = {str(k): _check_entry(str(k), v, file) for k, v in (doc.get("users") or {}).items()}
    oidc = {str(k).strip().lower(): _check_entry(str(k), v, file) for k, v in (doc.get("oidc") or {}).items()}
    return {"users": users, "oidc": oidc}


def _toml_text(doc: dict[str, dict[str, dict[str, Any]]]) -> str:
    """TOML of the users file (strings only; json.dumps quoting is valid TOML basic-string quoting)."""
    lines: list[str] = []
    for section in ("users", "oidc"):
        for name, entry in doc.get(section, {}).items():
            lines.append(f"[{section}.{json.dumps(name, ensure_ascii=False)}]")
            lines += [f"{k} = {json.dumps(str(v), ensure_ascii=False)}" for k, v in entry.items() if v is not None]
            lines.append("")
    return "\n".join(lines)


def save_users(doc: dict[str, dict[str, dict[str, Any]]], path: str | os.PathLike) -> None:
    """Write the users file atomically (a private temporary file of a unique
    name in the same folder, then renamed over it), readable by its owner only."""
    import tempfile

    file = Path(path)
    text = _toml_text(doc) if file.suffix.lower() == ".toml" else json.dumps(doc, ensure_ascii=False, indent=2)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def users_file_warning(path: str | os.PathLike | None = None, lang: str = "en") -> str | None:
    """A warning when the users file can be written by its group or by
    others (anyone who can write it can make themselves an administrator); None otherwise."""
    file = Path(path) if path is not None else users_path()
    if file is None:
        return None
    try:
        mode = file.stat().st_mode
    except OSError:
        return None
    if mode & 0o022:
        from crmflow.i18n import t

        return t("auth_users_writable", lang, path=str(file), mode=oct(mode & 0o777))
    return None


_USERS_SEEN: dict[str, tuple[tuple[int, int, int], dict[str, dict[str, dict[str, Any]]]]] = {}
_USERS_SEEN_LOCK = threading.Lock()


def _users_now(file: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`load_users`, read again only when the file's modification time,
    size or inode changed (checked on every run of a page: one stat)."""
    try:
        st = file.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = (-1, -1, -1)
    key = str(file)
    with _USERS_SEEN_LOCK:
        seen = _USERS_SEEN.get(key)
        if seen is not None and seen[0] == stamp:
            return seen[1]
    doc = load_users(file)
    with _USERS_SEEN_LOCK:
        _USERS_SEEN[key] = (stamp, doc)
    return doc


def still_valid(user: User, path: str | os.PathLike | None = None) -> bool:
    """Whether ``user`` (signed in earlier in this session) still has the
    same entry in the users file: False once their entry is removed or its
    role or owner changed (they must sign in again)."""
    file = Path(path) if path is not None else users_path()
    if file is None:
        return False
    entry = _users_now(file)["oidc" if user.kind == "oidc" else "users"].get(user.name)
    return entry is not None and _user(user.name, entry, user.kind) == user


def add_user(path: str | os.PathLike, name: str, role: str, owner: str | None = None, *,
             password: str | None = None, email: bool = False) -> None:
    """Add or update one entry: a local account (with ``password``) or, with
    ``email``, an identity-provider address (no password)."""
    name = str(name).strip()
    if not name:
        raise CrmflowError(key="auth_empty_name")
    if role not in ROLES:
        raise CrmflowError(key="auth_bad_role", role=role, roles=", ".join(ROLES))
    owner = (owner or "").strip() or None
    if role == "manager" and owner is None:
        raise CrmflowError(key="auth_manager_needs_owner", name=name, path=str(path))
    doc = load_users(path)
    entry: dict[str, Any] = {"role": role}
    if owner is not None:
        entry["owner"] = owner
    if email:
        doc["oidc"][name.lower()] = entry
    else:
        entry["password_hash"] = hash_password(password or "")
        doc["users"][name] = entry
    save_users(doc, path)


def list_users(path: str | os.PathLike) -> list[dict[str, str]]:
    """Every entry, without its hash: name, kind (password / identity provider), role, owner."""
    doc = load_users(path)
    rows = [{"name": n, "kind": "password", "role": e["role"], "owner": e.get("owner") or ""}
            for n, e in sorted(doc["users"].items())]
    rows += [{"name": n, "kind": "oidc", "role": e["role"], "owner": e.get("owner") or ""}
             for n, e in sorted(doc["oidc"].items())]
    return rows


def _user(name: str, entry: dict[str, Any], kind: str = "local") -> User:
    return User(name, entry["role"], (entry.get("owner") or None), kind)


# ---------------------------------------------------------------------------- signing in
class Attempts:
    """Sign-in attempts per name within a sliding window (``clock``: seconds,
    time.monotonic by default), shared by every session of the process.

    An attempt is recorded (:meth:`begin`) *before* the password is checked
    and cleared only by a success, so guesses sent at the same time cannot
    slip past the limit while the (slow) check runs; at most ``concurrent``
    checks run at once (:attr:`verifying`). Names whose attempts have all
    left the window are dropped from the table."""

    #: Prune the whole table once it holds more names than this.
    PRUNE_ABOVE = 1024

    def __init__(self, limit: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, concurrent: int = MAX_CONCURRENT_CHECKS) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.verifying = threading.BoundedSemaphore(concurrent)

    def _recent(self, name: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(name, []) if now - t < self.window]
        if kept:
            self._failures[name] = kept
        else:
            self._failures.pop(name, None)
        return kept

    def _prune(self, now: float) -> None:
        if len(self._failures) > self.PRUNE_ABOVE:
            for name in list(self._failures):
                self._recent(name, now)

    def _wait(self, recent: list[float], now: float) -> float:
        return max(0.0, recent[0] + self.window - now) if len(recent) >= self.limit else 0.0

    def blocked_for(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: now)."""
        with self._lock:
            now = self.clock()
            return self._wait(self._recent(name, now), now)

    def begin(self, name: str) -> float:
        """Record an attempt for ``name`` unless it is blocked: 0 when recorded
        (the caller may check the password), else the seconds to wait."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            recent = self._recent(name, now)
            wait = self._wait(recent, now)
            if wait == 0:
                self._failures[name] = recent + [now]
            return wait

    def failed(self, name: str) -> None:
        with self._lock:
            now = self.clock()
            self._failures[name] = self._recent(name, now) + [now]

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    def withdraw(self, name: str) -> None:
        """Take back the latest attempt recorded for ``name`` (a success that
        must not count as a failure, without clearing the failures before it)."""
        with self._lock:
            recent = self._failures.get(name)
            if recent:
                recent.pop()
                if not recent:
                    self._failures.pop(name, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._failures)


ATTEMPTS = Attempts()
ADDRESS_ATTEMPTS = Attempts(limit=MAX_ADDRESS_FAILURES)


def sign_in(name: str, password: str, path: str | os.PathLike | None = None,
            attempts: Attempts = ATTEMPTS, *, address: str | None = None,
            address_attempts: Attempts = ADDRESS_ATTEMPTS) -> User:
    """The local user ``name`` if ``password`` is theirs. Otherwise one error
    (``auth_wrong``) that does not tell which part was wrong, or
    ``auth_too_many`` after too many recent attempts for that name, or
    ``auth_too_many_address`` after too many from the network ``address``
    (None: not counted per address)."""
    key = str(name).strip()
    if address:
        # counted before the check, as per name; a success takes its attempt back below
        wait = address_attempts.begin(str(address))
        if wait > 0:
            raise CrmflowError(key="auth_too_many_address", minutes=max(1, round(wait / 60)))
    wait = attempts.begin(key.lower())  # counted before the check: concurrent guesses cannot pass the limit
    if wait > 0:
        raise CrmflowError(key="auth_too_many", minutes=max(1, round(wait / 60)))
    entry = load_users(path)["users"].get(key)
    stored = entry.get("password_hash") if entry else None
    with attempts.verifying:
        ok = verify_password(stored if isinstance(stored, str) else _dummy_hash(), password or "")
    if not (ok and entry):
        raise CrmflowError(key="auth_wrong")
    attempts.succeeded(key.lower())
    if address:
        address_attempts.withdraw(str(address))
    return _user(key, entry)


#: Set to 1 to accept an identity provider's e-mail address without the
#: ``email_verified`` claim (only for a provider that never sends it and
#: verifies every address itself).
TRUST_UNVERIFIED_EMAIL_ENV_VAR = "CRMFLOW_OIDC_TRUST_UNVERIFIED_EMAIL"


def _email_verified(claim: Any) -> bool:
    if os.environ.get(TRUST_UNVERIFIED_EMAIL_ENV_VAR, "").strip().lower() in ("1", "true", "yes"):
        return True
    return claim is True or (isinstance(claim, str) and claim.strip().lower() == "true")


def oidc_user(email: str | None, path: str | os.PathLike | None = None, *,
              email_verified: Any = None) -> User:
    """The user an identity provider signed in, by their e-mail address
    (case-insensitive) in the users file's ``oidc`` table; an address
    without an entry is refused (``auth_not_mapped``), and so is one the
    provider does not say it verified (``email_verified`` claim not true:
    ``auth_email_unverified``), unless :data:`TRUST_UNVERIFIED_EMAIL_ENV_VAR`
    is set."""
    address = str(email or "").strip().lower()
    if address and not _email_verified(email_verified):
        raise CrmflowError(key="auth_email_unverified", email=address)
    entry = load_users(path)["oidc"].get(address) if address else None
    if entry is None:
        raise CrmflowError(key="auth_not_mapped", email=address or "?")
    return _user(address, entry, "oidc")


def local_login_configured() -> bool:
    """Whether a users file is named (``CRMFLOW_USERS``): then the dashboard asks who you are."""
    return users_path() is not None

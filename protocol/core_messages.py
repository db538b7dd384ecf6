"""Client and server messages of accounts, heartbeats, errors and the session itself."""

from __future__ import annotations

from protocol.errors import ErrorCode
from protocol.registry import Field, MessageSpec, register

_SIGNED_IN = (
    Field("user_id", "int", "The account's numeric id."),
    Field("username", "str", "The account's username."),
)
_EXPIRES_AT = Field("expires_at", "float", "Unix time at which the token stops working.")
_NEW_CREDENTIALS = (
    Field("username", "str", "Characters from `a-z`, `0-9` and `_`.", min_len=3, max_len=32),
    Field("password", "str", "The new account's password.", min_len=8, max_len=1024),
)
_CREDENTIALS = (  # no minimum lengths: a short attempt is simply a failed login
    Field("username", "str", "The account's username.", max_len=32),
    Field("password", "str", "The account's password.", max_len=1024),
)
_TOKEN_REPLY = (
    *_SIGNED_IN,
    Field("token", "str", "Session token for `auth.resume` on later connections; keep it secret."),
    _EXPIRES_AT,
)

register(
    MessageSpec(
        "auth.register",
        "client",
        "Create an account and sign this socket in.",
        auth=False,
        body=(
            *_NEW_CREDENTIALS,
            Field("display_name", "str", "Name shown to others.", required=False, max_len=64),
        ),
        reply=_TOKEN_REPLY,
    )
)
register(
    MessageSpec(
        "auth.login",
        "client",
        "Sign this socket in with a username and password.",
        auth=False,
        body=_CREDENTIALS,
        reply=_TOKEN_REPLY,
    )
)
register(
    MessageSpec(
        "auth.resume",
        "client",
        "Sign this socket in with a token from an earlier login.",
        auth=False,
        body=(Field("token", "str", "A token from `auth.register` or `auth.login`.", max_len=256),),
        reply=(*_SIGNED_IN, _EXPIRES_AT),
    )
)
register(
    MessageSpec(
        "auth.logout",
        "client",
        "Revoke this socket's token and sign it out.",
        body=(
            Field(
                "all", "bool", "Revoke every token of the user, closing all their sockets.", required=False
            ),
        ),
        reply=(Field("revoked", "int", "How many tokens were revoked.", minimum=0),),
    )
)
register(
    MessageSpec(
        "ping",
        "client",
        "Measure round-trip time and the server clock.",
        auth=False,
        reply=(Field("ts", "float", "The server's Unix time."),),
    )
)
register(
    MessageSpec(
        "pong",
        "client",
        "Answer a server heartbeat `ping`; send it without an id.",
        auth=False,
        replies=False,
    )
)
register(
    MessageSpec(
        "echo",
        "client",
        "Round trip through the user's session actor; used by benchmarks.",
        body=(Field("data", "any", "Any value; it comes back unchanged.", required=False),),
        reply=(Field("data", "any", "The value sent, or nil."),),
    )
)
register(
    MessageSpec(
        "session.info",
        "client",
        "Describe the session actor serving this user.",
        reply=(
            Field("user_id", "int", "The signed-in account's id."),
            Field("actor", "str", "Path of the user's SessionActor."),
            Field("incarnation", "int", "How many times that actor has been started.", minimum=0),
            Field("sockets", "int", "Open sockets sharing it.", minimum=0),
        ),
    )
)

register(
    MessageSpec(
        "ping",
        "server",
        "Heartbeat: the client must answer with `pong`, or be closed with 4000.",
        auth=False,
        replies=False,
    )
)
register(
    MessageSpec(
        "error",
        "server",
        "A request failed, or a frame could not be read.",
        auth=False,
        replies=False,
        body=(
            Field(
                "code",
                "str",
                "A stable error code (see the table of error codes).",
                choices=tuple(c.value for c in ErrorCode),
            ),
            Field("message", "str", "Human-readable detail; do not parse it."),
            Field("ref", "any", "The failed request's id, or nil when it could not be read."),
            Field(
                "retry_after",
                "float",
                "Seconds to wait before retrying; only with `rate_limited`.",
                required=False,
            ),
        ),
    )
)
register(
    MessageSpec(
        "session.signed_out",
        "server",
        "This socket was signed out elsewhere; it is closed with 4001 next.",
        auth=False,
        replies=False,
        stream="session",
        body=(Field("reason", "str", "Why the socket was signed out, for display."),),
    )
)

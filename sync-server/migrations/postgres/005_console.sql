-- Issue 23: the command centre's web console. A console user is a user (dispatcher or admin)
-- with a password an admin set; a signed-in browser holds a session. ADR 0026.

-- Only the password's Argon2id hash (PHC string, salt and parameters in it) is kept.
CREATE TABLE console_passwords (
    user_id  uuid    PRIMARY KEY REFERENCES users (id),
    hash     text    NOT NULL,
    set_ms   bigint  NOT NULL
);

-- A signed-in browser: only the SHA-256 of the cookie's token is kept; the CSRF token is
-- handed to the pages of this session only.
CREATE TABLE console_sessions (
    token_hash  text    PRIMARY KEY,
    user_id     uuid    NOT NULL REFERENCES users (id),
    csrf        text    NOT NULL,
    created_ms  bigint  NOT NULL,
    seen_ms     bigint  NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

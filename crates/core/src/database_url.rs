//! The database URL, parsed once: which backend it names and, for display, its text with
//! any password replaced by `***`.
//!
//! Pure string parsing. The drivers still read the full text ([`DatabaseUrl::expose`]) for
//! their own options (`?mode=`, `?sslmode=`, ...); this type decides which driver that is and
//! never prints a password, through [`fmt::Display`] or [`fmt::Debug`].

use std::fmt;
use std::path::{Path, PathBuf};

/// A `sqlite:` or `postgres://`/`postgresql://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(SqliteUrl),
    Postgres(PostgresUrl),
}

/// `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:` or `sqlite://?mode=memory`, with
/// optional `?key=value` parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct SqliteUrl {
    raw: String,
    /// The file, percent-decoded; `None` for an in-memory database (or an empty path,
    /// which SQLite makes a private temporary database).
    path: Option<PathBuf>,
}

/// `postgres://[USER[:PASSWORD]@]HOST[:PORT][/DATABASE][?PARAMS]` (or `postgresql://`).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    raw: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
    database: Option<String>,
}

/// Why a database URL was refused. Holds the redacted text only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported database URL {url:?}: {reason}")]
pub struct BadUrl {
    url: String,
    reason: BadUrlReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadUrlReason {
    /// Neither `sqlite:` nor `postgres://`/`postgresql://`.
    UnknownScheme,
    /// The port is not a number from 0 to 65535.
    BadPort(String),
    /// An unterminated `[` IPv6 host.
    BadHost,
    /// A `%` escape that is not valid hex or not UTF-8.
    BadEscape,
    /// The driver refused the URL's options (the driver's message).
    Driver(String),
}

impl fmt::Display for BadUrlReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadUrlReason::UnknownScheme => f.write_str("use sqlite://PATH or postgres://..."),
            BadUrlReason::BadPort(p) => {
                write!(f, "the port {p:?} is not a number from 0 to 65535")
            }
            BadUrlReason::BadHost => f.write_str("the host has an unterminated '['"),
            BadUrlReason::BadEscape => {
                f.write_str("a %-escape is not two hex digits or does not decode to UTF-8")
            }
            BadUrlReason::Driver(why) => f.write_str(why),
        }
    }
}

impl BadUrl {
    /// A URL the driver refused (after [`DatabaseUrl::parse`] accepted it).
    pub fn driver(url: &DatabaseUrl, why: impl fmt::Display) -> BadUrl {
        BadUrl {
            url: url.to_string(),
            reason: BadUrlReason::Driver(why.to_string()),
        }
    }

    fn new(raw: &str, reason: BadUrlReason) -> BadUrl {
        BadUrl {
            url: redact(raw),
            reason,
        }
    }

    /// The URL as given, its password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    pub fn reason(&self) -> &BadUrlReason {
        &self.reason
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<DatabaseUrl, BadUrl> {
        if raw.starts_with("sqlite:") {
            SqliteUrl::parse(raw).map(DatabaseUrl::Sqlite)
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            PostgresUrl::parse(raw).map(DatabaseUrl::Postgres)
        } else {
            Err(BadUrl::new(raw, BadUrlReason::UnknownScheme))
        }
    }

    /// The full text, password included, for the driver. Never log it: use `Display`.
    pub fn expose(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(u) => &u.raw,
            DatabaseUrl::Postgres(u) => &u.raw,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = BadUrl;

    fn from_str(s: &str) -> Result<Self, BadUrl> {
        DatabaseUrl::parse(s)
    }
}

impl SqliteUrl {
    /// Mirrors how sqlx reads it: the scheme (`sqlite://` or `sqlite:`) is dropped, the path
    /// runs to the first `?`, and `:memory:` or `mode=memory` mean no file.
    fn parse(raw: &str) -> Result<SqliteUrl, BadUrl> {
        let rest = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        let (database, params) = match rest.split_once('?') {
            Some((d, p)) => (d, Some(p)),
            None => (rest, None),
        };
        let memory = database == ":memory:"
            || params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
        let path = if memory || database.is_empty() {
            None
        } else {
            let decoded = percent_decode(database)
                .ok_or_else(|| BadUrl::new(raw, BadUrlReason::BadEscape))?;
            Some(PathBuf::from(decoded))
        };
        Ok(SqliteUrl {
            raw: raw.to_owned(),
            path,
        })
    }

    /// The database file (relative paths are relative to the working directory); `None`
    /// for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn is_memory(&self) -> bool {
        self.path.is_none()
    }
}

impl PostgresUrl {
    fn parse(raw: &str) -> Result<PostgresUrl, BadUrl> {
        let bad = |reason| BadUrl::new(raw, reason);
        let rest = raw
            .strip_prefix("postgres://")
            .or_else(|| raw.strip_prefix("postgresql://"))
            .unwrap_or(raw);
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (before_query, _query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        // The user info ends at the last `@`, so that a password with an unescaped `/` or
        // `@` is never read as the host, the port or the path (and never shown in an error).
        let (userinfo, after_userinfo) = match before_query.rfind('@') {
            Some(i) => (Some(&before_query[..i]), &before_query[i + 1..]),
            None => (None, before_query),
        };
        let (hostport, path) = match after_userinfo.find('/') {
            Some(i) => (&after_userinfo[..i], Some(&after_userinfo[i + 1..])),
            None => (after_userinfo, None),
        };
        let user = userinfo
            .map(|u| u.split_once(':').map_or(u, |(user, _password)| user))
            .filter(|u| !u.is_empty())
            .map(|u| percent_decode(u).ok_or_else(|| bad(BadUrlReason::BadEscape)))
            .transpose()?;
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad(BadUrlReason::BadHost))?;
            let after = &v6[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(BadUrlReason::BadHost)),
            };
            (&hostport[..end + 2], port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad(BadUrlReason::BadPort(p.to_owned())))?,
            ),
        };
        let host = percent_decode(host).ok_or_else(|| bad(BadUrlReason::BadEscape))?;
        let database = path
            .filter(|p| !p.is_empty())
            .map(|p| percent_decode(p).ok_or_else(|| bad(BadUrlReason::BadEscape)))
            .transpose()?;
        Ok(PostgresUrl {
            raw: raw.to_owned(),
            user,
            host,
            port,
            database,
        })
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Empty when the URL names none (the driver's default, or `?host=`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(u) => fmt::Display::fmt(u, f),
            DatabaseUrl::Postgres(u) => fmt::Display::fmt(u, f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(u) => f.debug_tuple("Sqlite").field(u).finish(),
            DatabaseUrl::Postgres(u) => f.debug_tuple("Postgres").field(u).finish(),
        }
    }
}

impl fmt::Display for SqliteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for SqliteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.raw)
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact(&self.raw))
    }
}

/// `raw` with the password of its user info and any `password=` parameter replaced by
/// `***`. Errs on the side of hiding: everything between the first `:` of the user info and
/// the last `@` before the query goes. `sqlite:` URLs hold no password and are kept as is.
pub fn redact(raw: &str) -> String {
    if raw.starts_with("sqlite:") {
        return raw.to_owned();
    }
    let (head, query) = match raw.find(['?', '#']) {
        Some(i) => (&raw[..i], Some(&raw[i..])),
        None => (raw, None),
    };
    let mut out = String::with_capacity(raw.len());
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    match head[after_scheme..].rfind('@') {
        Some(at) => {
            let at = after_scheme + at;
            let userinfo = &head[after_scheme..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&head[..after_scheme + colon]);
                    out.push_str(":***");
                    out.push_str(&head[at..]);
                }
                None => out.push_str(head),
            }
        }
        None => out.push_str(head),
    }
    if let Some(query) = query {
        // `?a=1&password=x#frag`: hide each password value up to the next `&` or `#`.
        let mut rest = query;
        while !rest.is_empty() {
            let sep_len = usize::from(rest.starts_with(['?', '&', '#']));
            let end = rest[sep_len..]
                .find(['&', '#'])
                .map_or(rest.len(), |i| i + sep_len);
            let (part, tail) = rest.split_at(end);
            let (sep, pair) = part.split_at(sep_len);
            out.push_str(sep);
            match pair.split_once('=') {
                Some((key, _)) if sep != "#" && key.eq_ignore_ascii_case("password") => {
                    out.push_str(key);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
            rest = tail;
        }
    }
    out
}

/// `%XX` escapes decoded; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(raw: &str) -> PostgresUrl {
        match DatabaseUrl::parse(raw).unwrap() {
            DatabaseUrl::Postgres(p) => p,
            other => panic!("{raw}: {other:?}"),
        }
    }

    fn sqlite(raw: &str) -> SqliteUrl {
        match DatabaseUrl::parse(raw).unwrap() {
            DatabaseUrl::Sqlite(s) => s,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn postgres_parts() {
        let u = pg("postgres://alice:s3cret@db.example:6543/rollout?sslmode=require");
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.host(), "db.example");
        assert_eq!(u.port(), Some(6543));
        assert_eq!(u.database(), Some("rollout"));

        let u = pg("postgresql://postgres@127.0.0.1/test");
        assert_eq!(u.user(), Some("postgres"));
        assert_eq!(u.host(), "127.0.0.1");
        assert_eq!(u.port(), None);
        assert_eq!(u.database(), Some("test"));

        let u = pg("postgres://[::1]:5432/x");
        assert_eq!(u.host(), "[::1]");
        assert_eq!(u.port(), Some(5432));

        let u = pg("postgres:///?host=/var/run/postgresql");
        assert_eq!(u.host(), "");
        assert_eq!(u.database(), None);
        assert_eq!(u.user(), None);

        let u = pg("postgres://h:/d");
        assert_eq!(u.port(), None);
        assert!(DatabaseUrl::parse("postgresql://h/d")
            .unwrap()
            .is_postgres());
    }

    #[test]
    fn the_password_is_never_printed() {
        for raw in [
            "postgres://alice:s3cret@db:5432/rollout",
            "postgresql://alice:s3cret@db/rollout?sslmode=require",
            "postgres://alice:s3cret@db/rollout#frag",
            "postgres://db/rollout?user=alice&password=s3cret",
            "postgres://db/rollout?password=s3cret&sslmode=disable",
            "postgres://alice:s3c@ret@db/rollout",
            "postgres://alice:s3c/ret@db/rollout",
        ] {
            let url = DatabaseUrl::parse(raw).unwrap();
            for shown in [
                url.to_string(),
                format!("{url:?}"),
                format!("{url:#?}"),
                redact(raw),
            ] {
                assert!(!shown.contains("s3c"), "{raw} shown as {shown}");
                assert!(shown.contains("***"), "{raw} shown as {shown}");
            }
            assert_eq!(url.expose(), raw);
        }
        assert_eq!(
            DatabaseUrl::parse("postgres://alice:s3cret@db:5432/rollout")
                .unwrap()
                .to_string(),
            "postgres://alice:***@db:5432/rollout"
        );
        assert_eq!(
            redact("postgres://db/r?sslmode=disable&password=x&application_name=a"),
            "postgres://db/r?sslmode=disable&password=***&application_name=a"
        );
        // Nothing to hide: shown as given.
        assert_eq!(
            DatabaseUrl::parse("postgres://alice@db/rollout")
                .unwrap()
                .to_string(),
            "postgres://alice@db/rollout"
        );
    }

    #[test]
    fn a_refused_url_does_not_print_its_password() {
        for raw in [
            "mysql://root:s3cret@db/rollout",
            "postgres://root:s3cret@db:notaport/rollout",
            "postgres://root:s3cret@db:99999/rollout",
        ] {
            let e = DatabaseUrl::parse(raw).unwrap_err();
            assert!(!e.to_string().contains("s3cret"), "{e}");
            assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");
            assert!(e.redacted_url().contains("root:***@db"), "{e}");
        }
    }

    #[test]
    fn sqlite_paths() {
        let u = sqlite("sqlite://rollout.db");
        assert_eq!(u.path(), Some(Path::new("rollout.db")));
        assert!(u.path().unwrap().is_relative());

        let u = sqlite("sqlite:///var/lib/rollout/rollout.db");
        assert_eq!(u.path(), Some(Path::new("/var/lib/rollout/rollout.db")));
        assert!(u.path().unwrap().is_absolute());

        let u = sqlite("sqlite:data/rollout.db?mode=rwc");
        assert_eq!(u.path(), Some(Path::new("data/rollout.db")));

        let u = sqlite("sqlite:///tmp/a%20b.db");
        assert_eq!(u.path(), Some(Path::new("/tmp/a b.db")));

        for memory in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://x.db?cache=shared&mode=memory",
            "sqlite://",
        ] {
            assert!(sqlite(memory).is_memory(), "{memory}");
        }
        let u = DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!(u.kind(), "sqlite");
        assert_eq!(u.to_string(), "sqlite:///tmp/x.db");
        assert_eq!(u.expose(), "sqlite:///tmp/x.db");
    }

    #[test]
    fn bad_schemes() {
        for raw in [
            "",
            "rollout.db",
            "mysql://db/x",
            "postgres:/db/x",
            "postgres:db",
            "http://localhost:8080",
            "SQLITE://x.db",
            " sqlite://x.db",
        ] {
            let e = DatabaseUrl::parse(raw).unwrap_err();
            assert_eq!(e.reason(), &BadUrlReason::UnknownScheme, "{raw}");
            assert!(
                e.to_string().contains("use sqlite://PATH or postgres://"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_ports_and_hosts() {
        for (raw, port) in [
            ("postgres://db:99999/x", "99999"),
            ("postgres://db:-1/x", "-1"),
            ("postgres://db:+5432/x", "+5432"),
            ("postgres://db:54a/x", "54a"),
            ("postgres://u:p@db:x/y", "x"),
            ("postgres://[::1]:70000/x", "70000"),
        ] {
            let e = DatabaseUrl::parse(raw).unwrap_err();
            assert_eq!(e.reason(), &BadUrlReason::BadPort(port.into()), "{raw}");
        }
        assert_eq!(
            DatabaseUrl::parse("postgres://[::1/x")
                .unwrap_err()
                .reason(),
            &BadUrlReason::BadHost
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://db/%zz")
                .unwrap_err()
                .reason(),
            &BadUrlReason::BadEscape
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://%ff.db").unwrap_err().reason(),
            &BadUrlReason::BadEscape
        );
        assert_eq!(pg("postgres://db:0/x").port(), Some(0));
        assert_eq!(pg("postgres://db:65535/x").port(), Some(65535));
    }
}

/// The store a configuration file names: a relative `sqlite://` path belongs to the file's
/// folder `config_dir` (absolute), not to the working directory, so that a command run from
/// elsewhere reaches the same database. Other URLs are returned as they are.
pub fn resolve_against(database: &str, config_dir: &Path) -> String {
    let Ok(DatabaseUrl::Sqlite(url)) = DatabaseUrl::parse(database) else {
        return database.to_owned();
    };
    match url.path() {
        Some(path) if path.is_relative() => {
            let query = database
                .split_once('?')
                .map_or(String::new(), |(_, q)| format!("?{q}"));
            format!("sqlite://{}{query}", config_dir.join(path).display())
        }
        _ => database.to_owned(),
    }
}

#[cfg(test)]
mod resolve_tests {
    use std::path::Path;

    use super::resolve_against;

    #[test]
    fn relative_sqlite_paths_belong_to_the_config_folder() {
        let dir = Path::new("/etc/rollout");
        assert_eq!(
            resolve_against("sqlite://rollout.db", dir),
            "sqlite:///etc/rollout/rollout.db"
        );
        assert_eq!(
            resolve_against("sqlite:data/r.db?mode=rwc", dir),
            "sqlite:///etc/rollout/data/r.db?mode=rwc"
        );
        assert_eq!(
            resolve_against("sqlite:///var/r.db", dir),
            "sqlite:///var/r.db"
        );
        assert_eq!(resolve_against("sqlite::memory:", dir), "sqlite::memory:");
        assert_eq!(
            resolve_against("postgres://u@h/db", dir),
            "postgres://u@h/db"
        );
    }
}

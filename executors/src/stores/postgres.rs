//! The PostgreSQL store (`store "x" { backend = "postgres" conn_str = "…" }`)
//! and the connection it shares with state in PostgreSQL: `conn_str` as
//! libpq reads it (`sslmode` disable, prefer or require; TLS through
//! rustls, the server's certificate not checked, as libpq's `require`),
//! the password from `PGPASSWORD` when `conn_str` has none, tables in
//! `schema_name` (default `imm`) created on first use.
//!
//! A set of values is rows of `store_values` (`<prefix>/<dir>/<key>`);
//! every write is one transaction that also adds a row to
//! `store_revisions` holding the whole set, so an old revision is read
//! back from there (never compacted away).

use super::{now, Revision, Store};
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard, OnceCell};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// The advisory lock (held for one transaction) under which imm creates
/// its tables, so that two first runs do not race to create them.
pub const TABLES_LOCK_KEY: i64 = 7224353;

/// Where a PostgreSQL database is and how to log in: `conn_str` parsed,
/// the password added from `PGPASSWORD`, and the schema imm's tables live
/// in. Never shows the password.
#[derive(Clone)]
pub(crate) struct Database {
    config: tokio_postgres::Config,
    /// `postgres at HOST:PORT/DB`, for messages.
    shown: String,
    /// `host:port`, for the help of an unreachable server.
    address: String,
    /// The schema, quoted for SQL.
    pub schema: String,
}

impl Database {
    /// The database `conn_str` names; `what` says whose setting it is in
    /// messages (`store "x"`, `the state block`). The password is
    /// `password` (a secret), else `conn_str`'s, else `PGPASSWORD`.
    pub fn parse(
        conn_str: &str,
        password: Option<String>,
        schema: Option<String>,
        what: &str,
    ) -> Result<Database, String> {
        let mut config: tokio_postgres::Config = conn_str.parse().map_err(|e| {
            format!("{what}: conn_str is not a PostgreSQL connection string ({e}); write conn_str = \"postgres://USER@HOST:PORT/DB\"")
        })?;
        match password {
            Some(password) => {
                config.password(password);
            }
            None if config.get_password().is_none() => {
                if let Ok(password) = std::env::var("PGPASSWORD") {
                    config.password(password);
                }
            }
            None => {}
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let schema = schema.unwrap_or_else(|| "imm".into());
        let plain = schema
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_lowercase() || (i > 0 && c.is_ascii_digit()));
        if schema.is_empty() || !plain {
            return Err(format!(
                "{what}: schema_name \"{schema}\" must be lower-case letters, digits and _ (not first a digit)"
            ));
        }
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        let host = hosts.first().cloned().unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let address = format!("{host}:{port}");
        let shown = format!(
            "postgres at {address}/{}",
            config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or("postgres")
        );
        Ok(Database {
            config,
            shown,
            address,
            schema: format!("\"{schema}\""),
        })
    }

    pub fn describe(&self) -> String {
        self.shown.clone()
    }

    /// A new connection, its I/O driven by a task of the runtime (the
    /// connection closes when the client is dropped).
    pub async fn connect(&self) -> Result<Client, ActionError> {
        let tls = encrypt_only().map_err(|e| {
            ActionError::new(
                Code::StoreUnreachable,
                format!("cannot set up TLS for {}: {e}", self.shown),
            )
            .with_help("write sslmode=disable in conn_str to connect without TLS")
        })?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        let (client, connection) = self
            .config
            .connect(tls)
            .await
            .map_err(|e| self.failed(&e))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; the
            // client's next request then reports it.
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Runs `ddl` (`CREATE … IF NOT EXISTS` statements) once at a time
    /// across every client, so two first runs do not race to create.
    pub async fn ensure(&self, client: &Client, ddl: &str) -> Result<(), ActionError> {
        let text = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({TABLES_LOCK_KEY}); CREATE SCHEMA IF NOT EXISTS {}; {ddl} COMMIT;",
            self.schema
        );
        client
            .batch_execute(&text)
            .await
            .map_err(|e| self.failed(&e))
    }

    /// A PostgreSQL failure as imm's: refused credentials or rights are
    /// `PermissionDenied`, anything else (down, unknown database) is
    /// `StoreUnreachable`, each with what to fix.
    pub fn failed(&self, e: &tokio_postgres::Error) -> ActionError {
        let denied = [
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::INSUFFICIENT_PRIVILEGE,
        ];
        let detail = match (e.as_db_error(), std::error::Error::source(e)) {
            (Some(db), _) => db.message().to_string(),
            (None, Some(cause)) => format!("{e}: {cause}"),
            (None, None) => e.to_string(),
        };
        let refused_login =
            e.code().is_some_and(|c| denied.contains(c)) || detail.contains("password");
        if refused_login {
            return ActionError::new(
                Code::PermissionDenied,
                format!("{} refused imm's login or request: {detail}", self.shown),
            )
            .with_help("check the user in conn_str, the password (the block's password secret, else conn_str's, else PGPASSWORD), and that the role may create tables in the schema");
        }
        ActionError::new(
            Code::StoreUnreachable,
            format!("cannot use {}: {detail}", self.shown),
        )
        .with_help(format!(
            "start PostgreSQL at {} or fix conn_str (host, port, database); nothing was changed",
            self.address
        ))
    }
}

/// TLS that encrypts without checking the server's certificate: libpq's
/// `sslmode=prefer` and `require`.
fn encrypt_only() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(EncryptOnly(provider.clone()));
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The store a `store` block with `backend = "postgres"` declares;
/// `text` reads its string attributes.
pub(crate) fn open(
    name: &str,
    text: &dyn Fn(&str) -> Option<String>,
    prefix: String,
) -> Result<Arc<dyn Store>, String> {
    let what = format!("store \"{name}\"");
    let conn_str = text("conn_str").ok_or_else(|| {
        format!("{what}: a postgres store needs conn_str = \"postgres://USER@HOST:PORT/DB\"")
    })?;
    let database = Database::parse(&conn_str, text("password"), text("schema_name"), &what)?;
    Ok(Arc::new(PostgresStore::new(database, prefix)))
}

pub struct PostgresStore {
    database: Database,
    prefix: String,
    client: OnceCell<Mutex<Client>>,
}

const STORE_TABLES: &str = "CREATE TABLE IF NOT EXISTS {schema}.store_values (path text PRIMARY KEY, value text NOT NULL); \
CREATE TABLE IF NOT EXISTS {schema}.store_revisions (revision bigserial PRIMARY KEY, dir text NOT NULL, time bigint NOT NULL, why text NOT NULL, snapshot text NOT NULL);";

impl PostgresStore {
    pub(crate) fn new(database: Database, prefix: String) -> PostgresStore {
        PostgresStore {
            database,
            prefix: prefix.trim_end_matches('/').to_string(),
            client: OnceCell::new(),
        }
    }

    /// The one connection of this store, opened (and its tables made) on
    /// first use.
    async fn client(&self) -> Result<MutexGuard<'_, Client>, ActionError> {
        let cell = self
            .client
            .get_or_try_init(|| async {
                let client = self.database.connect().await?;
                let ddl = STORE_TABLES.replace("{schema}", &self.database.schema);
                self.database.ensure(&client, &ddl).await?;
                Ok::<_, ActionError>(Mutex::new(client))
            })
            .await?;
        Ok(cell.lock().await)
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.database.schema)
    }

    fn dir_prefix(&self, dir: &str) -> String {
        format!("{}/{dir}/", self.prefix)
    }

    /// The values directly under `dir` (not in deeper directories).
    async fn values_in(
        &self,
        client: &impl tokio_postgres::GenericClient,
        dir: &str,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        let prefix = self.dir_prefix(dir);
        let rows = client
            .query(
                &format!(
                    "SELECT path, value FROM {} WHERE left(path, char_length($1)) = $1",
                    self.table("store_values")
                ),
                &[&prefix],
            )
            .await
            .map_err(|e| self.database.failed(&e))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let path: String = row.get(0);
                let name = path.strip_prefix(&prefix)?.to_string();
                (!name.contains('/')).then(|| (name, row.get(1)))
            })
            .collect())
    }

    fn not_a_revision(&self, dir: &str, detail: &str) -> ActionError {
        ActionError::new(
            Code::ObjectMissing,
            format!("{}: {detail} (values of {dir})", self.describe()),
        )
        .with_help("run imm config history to see the revisions there are")
    }
}

fn revision_number(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

#[async_trait]
impl Store for PostgresStore {
    async fn write(
        &self,
        dir: &str,
        values: &BTreeMap<String, String>,
        _sensitive: &BTreeSet<String>,
        why: &str,
    ) -> Result<u64, ActionError> {
        let failed = |e: tokio_postgres::Error| self.database.failed(&e);
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(failed)?;
        let current = self.values_in(&transaction, dir).await?;
        let prefix = self.dir_prefix(dir);
        let values_table = self.table("store_values");
        for gone in current.keys().filter(|k| !values.contains_key(*k)) {
            let path = format!("{prefix}{gone}");
            transaction
                .execute(
                    &format!("DELETE FROM {values_table} WHERE path = $1"),
                    &[&path],
                )
                .await
                .map_err(failed)?;
        }
        for (key, value) in values {
            let path = format!("{prefix}{key}");
            transaction
                .execute(
                    &format!("INSERT INTO {values_table} (path, value) VALUES ($1, $2) ON CONFLICT (path) DO UPDATE SET value = excluded.value"),
                    &[&path, value],
                )
                .await
                .map_err(failed)?;
        }
        let snapshot = serde_json::to_string(values).unwrap_or_default();
        let time = i64::try_from(now()).unwrap_or(0);
        let row = transaction
            .query_one(
                &format!(
                    "INSERT INTO {} (dir, time, why, snapshot) VALUES ($1, $2, $3, $4) RETURNING revision",
                    self.table("store_revisions")
                ),
                &[&dir, &time, &why, &snapshot],
            )
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        Ok(revision_number(row.get(0)))
    }

    async fn read(&self, dir: &str) -> Result<BTreeMap<String, String>, ActionError> {
        let client = self.client().await?;
        self.values_in(&*client, dir).await
    }

    async fn history(&self, dir: &str) -> Result<Vec<Revision>, ActionError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT revision, time, why, snapshot FROM {} WHERE dir = $1 ORDER BY revision",
                    self.table("store_revisions")
                ),
                &[&dir],
            )
            .await
            .map_err(|e| self.database.failed(&e))?;
        rows.iter()
            .map(|row| {
                let snapshot: String = row.get(3);
                let values: BTreeMap<String, String> = serde_json::from_str(&snapshot)
                    .map_err(|e| self.not_a_revision(dir, &format!("a damaged revision ({e})")))?;
                Ok(Revision {
                    revision: revision_number(row.get(0)),
                    time: revision_number(row.get(1)),
                    keys: values.into_keys().collect(),
                    why: row.get(2),
                })
            })
            .collect()
    }

    async fn read_at(
        &self,
        dir: &str,
        revision: u64,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        let client = self.client().await?;
        let wanted = i64::try_from(revision).unwrap_or(i64::MAX);
        let row = client
            .query_opt(
                &format!(
                    "SELECT snapshot FROM {} WHERE dir = $1 AND revision = $2",
                    self.table("store_revisions")
                ),
                &[&dir, &wanted],
            )
            .await
            .map_err(|e| self.database.failed(&e))?;
        let Some(row) = row else {
            return Err(self.not_a_revision(dir, &format!("there is no revision {revision}")));
        };
        let snapshot: String = row.get(0);
        serde_json::from_str(&snapshot)
            .map_err(|e| self.not_a_revision(dir, &format!("revision {revision} is damaged ({e})")))
    }

    async fn remove(&self, dir: &str) -> Result<(), ActionError> {
        let client = self.client().await?;
        let current = self.values_in(&*client, dir).await?;
        let prefix = self.dir_prefix(dir);
        for key in current.keys() {
            let path = format!("{prefix}{key}");
            client
                .execute(
                    &format!("DELETE FROM {} WHERE path = $1", self.table("store_values")),
                    &[&path],
                )
                .await
                .map_err(|e| self.database.failed(&e))?;
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, ActionError> {
        let client = self.client().await?;
        let path = format!("{}/{key}", self.prefix);
        let row = client
            .query_opt(
                &format!(
                    "SELECT value FROM {} WHERE path = $1",
                    self.table("store_values")
                ),
                &[&path],
            )
            .await
            .map_err(|e| self.database.failed(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn ping(&self) -> Result<(), ActionError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| self.database.failed(&e))
    }

    fn describe(&self) -> String {
        self.database.describe()
    }
}

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error")]
    Database(#[from] DbErr),
    #[error("cannot use the data directory {path}")]
    DataDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("a {kind} with the slug {slug:?} already exists")]
    DuplicateSlug { kind: &'static str, slug: String },
    #[error("cannot use that parent page: {0}")]
    InvalidParent(String),
    #[error("this account wrote posts; give them to another author before deleting it")]
    AuthorHasPosts,
    #[error("cannot write the export")]
    ExportWrite(#[source] std::io::Error),
    #[error(
        "this is the site's last admin: make someone else an admin first, or the site has nobody left to manage it"
    )]
    LastAdmin,
    #[error("the server is shutting down and takes no more comments")]
    ShuttingDown,
    #[error("no user matches {0:?}")]
    UnknownUser(String),
    #[error(
        "the database holds a value this version does not understand: {table}.{column} = {value:?}"
    )]
    UnexpectedValue {
        table: &'static str,
        column: &'static str,
        value: String,
    },
}

impl StorageError {
    pub(crate) fn unexpected(table: &'static str, column: &'static str, value: &str) -> Self {
        StorageError::UnexpectedValue {
            table,
            column,
            value: value.to_owned(),
        }
    }
}

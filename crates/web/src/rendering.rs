//! Markdown typed on the site (comments, posts, the editor's preview) turned into HTML on
//! tokio's blocking pool, never on the threads that answer requests, and before any write
//! transaction opens: a costly text then slows only itself, not `/healthz` or other readers.

use std::time::{Duration, Instant};

use folio_domain::markdown::{self, RenderRefusal, RenderedPost};

use crate::error::AppError;

/// How long one request may spend rendering before it is told the text is too complex. The
/// limits in `folio_domain::markdown` keep the worst text well under a tenth of this; the
/// deadline is for a machine that is busy with much else.
const RENDER_TIME: Duration = Duration::from_secs(2);

pub(crate) type Rendered<T> = Result<Result<T, RenderRefusal>, AppError>;

pub(crate) async fn post(source: &str) -> Rendered<RenderedPost> {
    let source = source.to_owned();
    on_blocking_pool(move |deadline| markdown::render_post_within(&source, deadline)).await
}

pub(crate) async fn comment(source: &str) -> Rendered<String> {
    let source = source.to_owned();
    on_blocking_pool(move |deadline| markdown::render_comment_within(&source, deadline)).await
}

async fn on_blocking_pool<T: Send + 'static>(
    render: impl FnOnce(Instant) -> Result<T, RenderRefusal> + Send + 'static,
) -> Rendered<T> {
    // The time waiting for a blocking thread counts: the deadline is the request's.
    let deadline = Instant::now() + RENDER_TIME;
    tokio::task::spawn_blocking(move || render(deadline))
        .await
        .map_err(|_| AppError::Internal("rendering Markdown stopped unexpectedly"))
}

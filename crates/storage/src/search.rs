//! Full-text search behind one function: SQLite FTS5 or PostgreSQL's text search. Whatever a
//! reader types is turned into a query the engine cannot misread, so no input can fail.

use folio_domain::{PageNumber, Paginated, PostSummary};
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::{Backend, Result, Store, now};

/// Where the engines put highlight marks; private-use characters that no post contains, turned
/// into `<mark>` after the snippet has been HTML-escaped.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';
const MAX_TERMS: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub post: PostSummary,
    /// Escaped HTML with the matched words in `<mark>`.
    pub snippet_html: String,
}

impl Store {
    pub async fn search(
        &self,
        query: &str,
        page: PageNumber,
        per_page: u32,
    ) -> Result<Paginated<SearchHit>> {
        let empty = Paginated {
            items: Vec::new(),
            page,
            per_page,
            total: 0,
        };
        let Some(engine_query) = self.engine_query(query) else {
            return Ok(empty);
        };
        let (count_sql, page_sql) = match self.backend {
            Backend::Sqlite => (
                "SELECT COUNT(*) AS n FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid \
                 WHERE posts_fts MATCH ? AND p.kind = 'post' AND p.status = 'published' AND p.published_at <= ? AND COALESCE(p.password, '') = ''",
                "SELECT p.id AS id, snippet(posts_fts, -1, char(57344), char(57345), '…', 24) AS snippet \
                 FROM posts_fts JOIN posts p ON p.id = posts_fts.rowid \
                 WHERE posts_fts MATCH ? AND p.kind = 'post' AND p.status = 'published' AND p.published_at <= ? AND COALESCE(p.password, '') = '' \
                 ORDER BY bm25(posts_fts, 5.0, 1.0), p.published_at DESC LIMIT ? OFFSET ?",
            ),
            Backend::Postgres => (
                "SELECT COUNT(*) AS n FROM posts p, websearch_to_tsquery('english', $1) q \
                 WHERE p.search_vector @@ q AND p.kind = 'post' AND p.status = 'published' AND p.published_at <= $2 AND COALESCE(p.password, '') = ''",
                "SELECT p.id AS id, ts_headline('english', p.plain_text, q, \
                   'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter=\" … \"') AS snippet \
                 FROM posts p, websearch_to_tsquery('english', $1) q \
                 WHERE p.search_vector @@ q AND p.kind = 'post' AND p.status = 'published' AND p.published_at <= $2 AND COALESCE(p.password, '') = '' \
                 ORDER BY ts_rank(p.search_vector, q) DESC, p.published_at DESC LIMIT $3 OFFSET $4",
            ),
        };
        let visible_until: Value = now().into();
        let count_row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db_backend(),
                count_sql,
                [engine_query.clone().into(), visible_until.clone()],
            ))
            .await?;
        let total: i64 = match count_row {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        let total = u64::try_from(total).unwrap_or(0);
        if total == 0 || page.offset(per_page) >= total {
            return Ok(Paginated { total, ..empty });
        }
        let offset = i64::try_from(page.offset(per_page)).unwrap_or(i64::MAX);
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                self.db_backend(),
                page_sql,
                [
                    engine_query.into(),
                    visible_until,
                    i64::from(per_page).into(),
                    offset.into(),
                ],
            ))
            .await?;
        let mut ranked = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let snippet: String = row.try_get("", "snippet")?;
            ranked.push((id, snippet));
        }
        let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
        let mut posts = self.published_posts_by_ids(&ids).await?;
        let items = ranked
            .into_iter()
            .filter_map(|(id, snippet)| {
                let at = posts.iter().position(|p| p.id == id)?;
                Some(SearchHit {
                    post: posts.swap_remove(at),
                    snippet_html: highlight(&snippet),
                })
            })
            .collect::<Vec<_>>();
        let mut sorted = items;
        sorted.sort_by_key(|hit| ids.iter().position(|id| *id == hit.post.id));
        Ok(Paginated {
            items: sorted,
            page,
            per_page,
            total,
        })
    }

    /// FTS5 gets only double-quoted words (its operators lose their meaning inside quotes);
    /// PostgreSQL's `websearch_to_tsquery` accepts any text by design.
    fn engine_query(&self, raw: &str) -> Option<String> {
        let words = search_words(raw);
        if words.is_empty() {
            return None;
        }
        Some(match self.backend {
            Backend::Sqlite => words
                .iter()
                .map(|w| format!("\"{w}\""))
                .collect::<Vec<_>>()
                .join(" "),
            Backend::Postgres => words.join(" "),
        })
    }
}

/// The words of a query: letters and digits only, at most a handful, each of sane length.
fn search_words(raw: &str) -> Vec<String> {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(64).collect::<String>())
        .take(MAX_TERMS)
        .collect()
}

fn highlight(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    for ch in snippet.chars() {
        match ch {
            MARK_OPEN => out.push_str("<mark>"),
            MARK_CLOSE => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_become_plain_words() {
        assert_eq!(
            search_words("NEAR(foo* -bar \"baz"),
            vec!["NEAR", "foo", "bar", "baz"]
        );
        assert!(search_words("*** ((( ---").is_empty());
        assert_eq!(search_words(&"x ".repeat(1000)).len(), MAX_TERMS);
    }

    #[test]
    fn snippets_are_escaped_before_marking() {
        assert_eq!(
            highlight("a <b> \u{E000}word\u{E001}"),
            "a &lt;b&gt; <mark>word</mark>"
        );
    }
}

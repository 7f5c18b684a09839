//! What every page around its content shows: header, menu, sidebar, and the head's metadata.

use crate::AppState;
use crate::error::AppError;
use crate::views::{Link, month_name};

/// The frame of a page. Templates extend `base.html`, which reads this.
#[derive(Debug, Clone)]
pub struct Layout {
    pub site_title: String,
    pub tagline: String,
    pub language: String,
    pub base_url: String,
    /// The text of `<title>`.
    pub title: String,
    pub description: String,
    /// Absolute canonical URL of this page.
    pub canonical: String,
    pub body_class: &'static str,
    pub og_type: &'static str,
    pub og_image: Option<String>,
    pub published_time: Option<String>,
    pub modified_time: Option<String>,
    pub comments_feed: Option<String>,
    pub search_query: String,
    pub noindex: bool,
    pub menu: Vec<Link>,
    pub sidebar: Option<Sidebar>,
}

#[derive(Debug, Clone)]
pub struct Sidebar {
    pub recent: Vec<Link>,
    pub categories: Vec<CategoryItem>,
    pub archives: Vec<CountedLink>,
}

#[derive(Debug, Clone)]
pub struct CategoryItem {
    pub link: Link,
    pub count: u64,
    pub depth: usize,
}

#[derive(Debug, Clone)]
pub struct CountedLink {
    pub link: Link,
    pub count: u64,
}

impl Layout {
    /// The frame without anything from the database: for error pages, which must render even
    /// when the database is down.
    pub fn bare(state: &AppState, title: &str, path: &str) -> Self {
        let site = state.site();
        Layout {
            site_title: site.title.clone(),
            tagline: site.tagline.clone(),
            language: site.language.clone(),
            base_url: site.base_url.clone(),
            title: if title.is_empty() {
                site.title.clone()
            } else {
                format!("{title} – {}", site.title)
            },
            description: site.tagline.clone(),
            canonical: format!("{}{}", site.base_url, path),
            body_class: "page",
            og_type: "website",
            og_image: None,
            published_time: None,
            modified_time: None,
            comments_feed: None,
            search_query: String::new(),
            noindex: false,
            menu: Vec::new(),
            sidebar: None,
        }
    }

    /// The full frame: menu of pages and the sidebar widgets.
    pub async fn full(state: &AppState, title: &str, path: &str) -> Result<Self, AppError> {
        let store = state.store();
        let mut layout = Layout::bare(state, title, path);
        layout.menu = store
            .page_links()
            .await?
            .into_iter()
            .map(|l| Link {
                title: l.title,
                path: l.path,
            })
            .collect();
        let recent = store
            .recent_post_links(5)
            .await?
            .into_iter()
            .map(|l| Link {
                title: l.title,
                path: l.path,
            })
            .collect();
        let categories = category_tree(store.categories_with_counts().await?);
        let archives = store
            .month_counts()
            .await?
            .into_iter()
            .map(|m| CountedLink {
                link: Link {
                    title: format!("{} {}", month_name(m.month), m.year),
                    path: format!("/{:04}/{:02}/", m.year, m.month),
                },
                count: m.count,
            })
            .collect();
        layout.sidebar = Some(Sidebar {
            recent,
            categories,
            archives,
        });
        Ok(layout)
    }
}

/// Categories in tree order (each parent followed by its children), with their depth, leaving
/// out empty branches as WordPress's widget does.
fn category_tree(all: Vec<folio_storage::CategoryCount>) -> Vec<CategoryItem> {
    fn subtree_total(id: i64, all: &[folio_storage::CategoryCount]) -> u64 {
        let own = all.iter().find(|c| c.term.id == id).map_or(0, |c| c.count);
        own + all
            .iter()
            .filter(|c| c.term.parent_id == Some(id))
            .map(|c| subtree_total(c.term.id, all))
            .sum::<u64>()
    }
    fn visit(
        parent: Option<i64>,
        depth: usize,
        all: &[folio_storage::CategoryCount],
        out: &mut Vec<CategoryItem>,
    ) {
        if depth > 8 {
            return;
        }
        for c in all.iter().filter(|c| c.term.parent_id == parent) {
            if subtree_total(c.term.id, all) == 0 {
                continue;
            }
            out.push(CategoryItem {
                link: Link {
                    title: c.term.name.clone(),
                    path: c.term.path(),
                },
                count: c.count,
                depth,
            });
            visit(Some(c.term.id), depth + 1, all, out);
        }
    }
    let mut out = Vec::new();
    visit(None, 0, &all, &mut out);
    out
}

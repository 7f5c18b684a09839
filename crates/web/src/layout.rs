//! What every page around its content shows: header, menu, sidebar, and the head's metadata.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;

use crate::AppState;
use crate::error::AppError;
use crate::personal::{Part, Slot};
use crate::session::Viewer;
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
    pub menu: Vec<MenuItem>,
    pub sidebar: Option<Sidebar>,
    /// Shown to a signed-in reader: who they are, and a way out.
    pub account: Option<AccountBar>,
    /// A one-time message (after sign-in, after saving a setting).
    pub notice: Option<String>,
    /// Rendered once for every signed-in reader: the account bar and the notice are left as
    /// markers, for `personal` to fill in for each of them.
    pub(crate) for_any_reader: bool,
}

#[derive(Debug, Clone)]
pub struct AccountBar {
    pub name: String,
    pub csrf: String,
    pub return_to: String,
    pub can_admin: bool,
}

#[derive(Template)]
#[template(path = "account_bar.html")]
pub struct AccountBarPart<'a> {
    pub account: Option<&'a AccountBar>,
}

#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePart<'a> {
    pub notice: Option<&'a str>,
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

/// A page in the site's menu, in order. Child pages follow their parent inside its
/// `ul.sub-menu`, so the menu nests as plain HTML lists, without script.
#[derive(Debug, Clone)]
pub struct MenuItem {
    pub link: Link,
    /// This item's `li` stays open for a `ul.sub-menu` of its children.
    pub has_children: bool,
    /// How many sub-menus (and their parents' items) end after this item.
    pub closes: usize,
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
            // WordPress's document title: "Site – Tagline" at home, "Page – Site" elsewhere.
            title: if title.is_empty() && !site.tagline.is_empty() {
                format!("{} – {}", site.title, site.tagline)
            } else if title.is_empty() {
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
            account: None,
            notice: None,
            for_any_reader: false,
        }
    }

    /// The account bar `base.html` shows (or nothing, for a reader not signed in).
    pub fn account_part(&self) -> Part<AccountBarPart<'_>> {
        if self.for_any_reader {
            Part::Marker(Slot::AccountBar)
        } else {
            Part::Own(AccountBarPart {
                account: self.account.as_ref(),
            })
        }
    }

    pub fn notice_part(&self) -> Part<NoticePart<'_>> {
        if self.for_any_reader {
            Part::Marker(Slot::Notice)
        } else {
            Part::Own(NoticePart {
                notice: self.notice.as_deref(),
            })
        }
    }

    /// Adds what a signed-in reader sees on every page: the account bar and any notice.
    pub async fn for_viewer(&mut self, viewer: &Viewer, path: &str) -> Result<(), AppError> {
        let Some(user) = &viewer.user else {
            return Ok(());
        };
        self.account = Some(AccountBar {
            name: user.display_name.clone(),
            csrf: viewer.csrf_token().await?,
            return_to: path.to_owned(),
            can_admin: user.role >= folio_domain::Role::Author,
        });
        self.notice = viewer.take_notice().await?;
        Ok(())
    }

    /// The frame with the site's menu but no sidebar: for pages outside the reading side
    /// (errors, moderation and subscription links), which still belong to the site. Without
    /// the database (the reason for a 500, perhaps) the menu is left out.
    pub async fn with_menu(state: &AppState, title: &str, path: &str) -> Self {
        let mut layout = Layout::bare(state, title, path);
        if let Ok(chrome) = state.chrome().get_or_build(state).await {
            layout.menu = chrome.menu.clone();
        }
        layout
    }

    /// The full frame: menu of pages and the sidebar widgets.
    pub async fn full(state: &AppState, title: &str, path: &str) -> Result<Self, AppError> {
        let chrome = state.chrome().get_or_build(state).await?;
        let mut layout = Layout::bare(state, title, path);
        layout.menu = chrome.menu.clone();
        layout.sidebar = Some(chrome.sidebar.clone());
        Ok(layout)
    }
}

/// The menu and sidebar are the same on every page and change only with the content, so they
/// are built once per content version (and at least once per TTL, for scheduled posts).
#[derive(Debug)]
pub struct Chrome {
    menu: Vec<MenuItem>,
    sidebar: Sidebar,
}

pub struct ChromeCache {
    current: std::sync::Mutex<Option<(i64, Instant, Arc<Chrome>)>>,
    ttl: Duration,
}

impl ChromeCache {
    pub fn new(ttl: Duration) -> Self {
        ChromeCache {
            current: std::sync::Mutex::new(None),
            ttl,
        }
    }

    async fn get_or_build(&self, state: &AppState) -> Result<Arc<Chrome>, AppError> {
        let version = state.cache().known_version();
        if let Some(version) = version {
            let current = self
                .current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((built_for, built_at, chrome)) = current.as_ref()
                && *built_for == version
                && built_at.elapsed() < self.ttl
            {
                return Ok(chrome.clone());
            }
        }
        let chrome = Arc::new(build_chrome(state).await?);
        if let Some(version) = version {
            let mut current = self
                .current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *current = Some((version, Instant::now(), chrome.clone()));
        }
        Ok(chrome)
    }
}

async fn build_chrome(state: &AppState) -> Result<Chrome, AppError> {
    let store = state.store();
    let mut menu = Vec::new();
    flatten_menu(store.page_menu().await?, &mut menu);
    let recent = store
        .recent_post_links(5)
        .await?
        .into_iter()
        .map(Link::from)
        .collect();
    let categories = category_tree(store.categories_with_counts().await?);
    let archives = archive_links(store.month_counts().await?);
    Ok(Chrome {
        menu,
        sidebar: Sidebar {
            recent,
            categories,
            archives,
        },
    })
}

fn flatten_menu(pages: Vec<folio_storage::PageLink>, out: &mut Vec<MenuItem>) {
    for page in pages {
        let has_children = !page.children.is_empty();
        out.push(MenuItem {
            link: Link::from(page.link),
            has_children,
            closes: 0,
        });
        if has_children {
            flatten_menu(page.children, out);
            if let Some(last) = out.last_mut() {
                last.closes += 1;
            }
        }
    }
}

/// The last twelve months with posts, then one link per older year, so that a blog with a
/// decade of posts does not get a sidebar a hundred lines long.
fn archive_links(months: Vec<folio_storage::MonthCount>) -> Vec<CountedLink> {
    const RECENT_MONTHS: usize = 12;
    let mut links: Vec<CountedLink> = months
        .iter()
        .take(RECENT_MONTHS)
        .map(|m| CountedLink {
            link: Link {
                title: format!("{} {}", month_name(m.month), m.year),
                path: format!("/{:04}/{:02}/", m.year, m.month),
            },
            count: m.count,
        })
        .collect();
    // A year link leads to the whole year, so it counts the whole year.
    let mut years: Vec<(i32, u64)> = Vec::new();
    for m in months.iter().skip(RECENT_MONTHS) {
        if years.last().is_none_or(|(year, _)| *year != m.year) {
            let total = months
                .iter()
                .filter(|other| other.year == m.year)
                .map(|other| other.count)
                .sum();
            years.push((m.year, total));
        }
    }
    links.extend(years.into_iter().map(|(year, count)| CountedLink {
        link: Link {
            title: year.to_string(),
            path: format!("/{year:04}/"),
        },
        count,
    }));
    links
}

/// Categories in tree order (each parent followed by its children), with their depth, leaving
/// out empty branches as WordPress's widget does. A parent counts its children's posts too
/// (WordPress's hierarchical counts), as its archive lists them: never "(0)" above a child
/// that has posts.
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
            let total = subtree_total(c.term.id, all);
            if total == 0 {
                continue;
            }
            out.push(CategoryItem {
                link: Link {
                    title: c.term.name.clone(),
                    path: crate::views::url_path(&c.term.path()),
                },
                count: total,
                depth,
            });
            visit(Some(c.term.id), depth + 1, all, out);
        }
    }
    let mut out = Vec::new();
    visit(None, 0, &all, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use folio_storage::MonthCount;

    #[test]
    fn archives_fold_older_months_into_years() {
        let months: Vec<MonthCount> = (0..30)
            .map(|i| MonthCount {
                year: 2026 - i / 12,
                month: 12 - (i % 12) as u8,
                count: 2,
            })
            .collect();
        let links = archive_links(months);
        let titles: Vec<&str> = links.iter().map(|l| l.link.title.as_str()).collect();
        assert_eq!(titles.len(), 12 + 2);
        assert_eq!(titles[0], "December 2026");
        assert_eq!(titles[11], "January 2026");
        assert_eq!(&titles[12..], &["2025", "2024"]);
        assert_eq!(links[12].count, 24);
        // A year partly listed by month still counts all of its posts.
        let months = vec![
            MonthCount {
                year: 2026,
                month: 1,
                count: 1,
            },
            MonthCount {
                year: 2025,
                month: 12,
                count: 1,
            },
            MonthCount {
                year: 2025,
                month: 11,
                count: 4,
            },
        ];
        let mut shown = archive_links(months.clone());
        assert_eq!(shown.len(), 3);
        let many: Vec<MonthCount> = (1..=11)
            .rev()
            .map(|month| MonthCount {
                year: 2027,
                month,
                count: 1,
            })
            .chain(months)
            .collect();
        shown = archive_links(many);
        let last = shown.last().unwrap();
        assert_eq!((last.link.title.as_str(), last.count), ("2025", 5));
        assert_eq!(links[13].link.path, "/2024/");
        assert_eq!(links[13].count, 12);
    }
}

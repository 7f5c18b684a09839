//! Sample content for a new site, for screenshots and for load tests: a few authors, dozens of
//! posts over several years, nested categories, tags, pages, and threaded conversations.
//!
//! Everything comes from the word lists below and a small seeded generator, so the same seed
//! always gives the same site (apart from dates, which count back from now).

use std::collections::HashSet;

use folio_domain::{CommentStatus, PostKind, PostStatus, Role};
use folio_storage::{NewComment, NewPost, NewUser, Store};
use time::{Duration, OffsetDateTime};

const COMMENT_BATCH: usize = 500;
/// Posts written in one transaction.
const POST_BATCH: usize = 1000;
/// Replies nest at most this deep (a top-level comment is depth 1).
const MAX_DEPTH: u8 = 4;
/// Appears in a large share of the posts, so a search for it has many results.
const SEARCH_TERM: &str = "latency";
const YEAR_SECONDS: i64 = 365 * 24 * 3600;
const HISTORY_SECONDS: i64 = 4 * YEAR_SECONDS;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub posts: usize,
    pub comments: usize,
    /// When non-zero, one post gets exactly this many approved comments and another exactly 50.
    pub big_post_comments: usize,
    /// When non-zero, the big post's comments are this many conversations of about equal size.
    pub big_post_threads: usize,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            posts: 48,
            comments: 400,
            big_post_comments: 0,
            big_post_threads: 0,
            seed: 42,
        }
    }
}

/// What was created, printed by `folio demo` as one JSON line for scripts (`cargo xtask bench`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DemoSummary {
    pub posts: usize,
    pub comments: usize,
    pub post_with_50_comments: Option<String>,
    pub post_with_big_thread: Option<String>,
    pub search_term: String,
}

impl DemoSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// What a person reads after `folio demo`: what was made and where to look.
    pub fn to_text(&self, base_url: &str) -> String {
        let mut text = format!(
            "Sample content added: {} posts and pages, {} comments.\n",
            self.posts, self.comments
        );
        if let Some(path) = &self.post_with_50_comments {
            text.push_str(&format!("  A post with 50 comments:  {base_url}{path}\n"));
        }
        if let Some(path) = &self.post_with_big_thread {
            text.push_str(&format!("  A post with a long thread: {base_url}{path}\n"));
        }
        text.push_str(&format!(
            "  Try a search:             {base_url}/search?q={}\n",
            self.search_term
        ));
        text.push_str(&format!(
            "Start the site with `folio serve`, then open {base_url}/"
        ));
        text
    }
}

/// Fills `store` with sample content. Meant for an empty database; on a used one it adds to
/// what is there (names and slugs get numbers where they collide).
pub async fn fill(store: &Store, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let mut rng = Rng::new(options.seed);
    let now = whole_seconds(OffsetDateTime::now_utc());

    let mut author_ids = Vec::with_capacity(AUTHORS.len());
    let mut author_names = Vec::with_capacity(AUTHORS.len());
    for person in AUTHORS {
        let user = store.create_user(new_user(person)).await?;
        author_ids.push(user.id);
        author_names.push(user.display_name);
    }
    let mut reader_ids = Vec::with_capacity(READERS.len());
    for person in READERS {
        reader_ids.push(store.create_user(new_user(person)).await?.id);
    }

    let site_born = now - Duration::seconds(HISTORY_SECONDS + 12 * DAY);
    for (i, page) in PAGES.iter().enumerate() {
        let at = site_born + Duration::hours(i64::try_from(i).unwrap_or(0));
        store
            .create_post(NewPost {
                kind: PostKind::Page,
                title: page.title.to_owned(),
                slug: None,
                source: page.source.to_owned(),
                status: PostStatus::Published,
                published_at: Some(at),
                author_id: author_ids[0],
                categories: Vec::new(),
                tags: Vec::new(),
                comments_open: false,
                featured_image: None,
                password: None,
                parent_id: None,
                sticky: false,
            })
            .await?;
    }

    let plans = plan_posts(&mut rng, options.posts, now);
    // Created oldest first, so ids grow with time as they would on a real blog.
    let mut created: Vec<CreatedPost> = Vec::with_capacity(plans.len());
    let oldest_first: Vec<&PostPlan> = plans.iter().rev().collect();
    for group in oldest_first.chunks(POST_BATCH) {
        let mut batch = Vec::with_capacity(group.len());
        let mut authors = Vec::with_capacity(group.len());
        for plan in group {
            let topic = &TOPICS[plan.topic];
            let author = pick_author(&mut rng, plan.topic);
            let source = match plan.body {
                Some(body) => body.to_owned(),
                None => post_body(&mut rng, topic, plan.subject),
            };
            authors.push(author);
            batch.push(NewPost {
                kind: PostKind::Post,
                title: plan.title.clone(),
                slug: None,
                source,
                status: PostStatus::Published,
                published_at: Some(plan.published_at),
                author_id: author_ids[author],
                categories: post_categories(&mut rng, topic),
                tags: post_tags(&mut rng, topic),
                // Like many WordPress sites, discussion closes on some old posts.
                comments_open: now - plan.published_at < Duration::seconds(3 * YEAR_SECONDS)
                    || rng.chance(0.5),
                featured_image: None,
                password: None,
                parent_id: None,
                sticky: false,
            });
        }
        let posts = store.create_posts(batch).await?;
        for ((plan, author), post) in group.iter().zip(authors).zip(posts) {
            created.push(CreatedPost {
                id: post.summary.id,
                path: post.summary.path(),
                published_at: plan.published_at,
                author,
                subject: TOPICS[plan.topic].subjects[plan.subject],
            });
        }
    }
    created.reverse(); // index 0 is the newest again, as in `plans`
    if !created.is_empty() {
        store.create_post(draft(&mut rng, author_ids[0])).await?;
    }

    let commenters = Commenters {
        author_ids: &author_ids,
        author_names: &author_names,
        reader_ids: &reader_ids,
    };
    let mut thread = Thread::default();
    let mut budget = options.comments;

    // The newest post carries a real conversation, so the front page and screenshots show one.
    if let Some(newest) = created.first() {
        let take = budget.min(NEWEST_CONVERSATION.len());
        thread.add_scripted(newest, &NEWEST_CONVERSATION[..take], now);
        budget -= take;
    }

    let mut post_with_big_thread = None;
    let mut post_with_50_comments = None;
    let mut special = vec![0];
    if options.big_post_comments > 0 && created.len() >= 3 {
        let big = created.len() / 3;
        let fifty = created.len() / 2;
        for (index, count, slot) in [
            (big, options.big_post_comments, &mut post_with_big_thread),
            (fifty, 50, &mut post_with_50_comments),
        ] {
            if budget < count {
                continue;
            }
            if index == big && options.big_post_threads > 0 {
                thread.add_conversations(
                    &mut rng,
                    &created[index],
                    count,
                    options.big_post_threads,
                    now,
                );
            } else {
                thread.add_generated(&mut rng, &created[index], count, true, now);
            }
            budget -= count;
            special.push(index);
            *slot = Some(created[index].path.clone());
        }
    }

    let others: Vec<usize> = (0..created.len())
        .filter(|i| !special.contains(i))
        .collect();
    let weights: Vec<u32> = others
        .iter()
        .map(|_| if rng.chance(0.15) { 8 } else { 1 })
        .collect();
    let mut counts = vec![0usize; others.len()];
    if !others.is_empty() {
        // Running totals, so that a million comments over a hundred thousand posts each find
        // their post by bisection rather than by a walk over every post.
        let ends: Vec<u64> = weights
            .iter()
            .scan(0u64, |total, weight| {
                *total += u64::from(*weight);
                Some(*total)
            })
            .collect();
        let total = ends.last().copied().unwrap_or(0);
        for _ in 0..budget {
            let ticket = rng.below(total);
            counts[ends.partition_point(|&end| end <= ticket)] += 1;
        }
    }
    for (slot, count) in counts.into_iter().enumerate() {
        if count > 0 {
            thread.add_generated(&mut rng, &created[others[slot]], count, false, now);
        }
    }

    let comments = thread.insert(store, &commenters).await?;
    Ok(DemoSummary {
        posts: created.len(),
        comments,
        post_with_50_comments,
        post_with_big_thread,
        search_term: SEARCH_TERM.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// xorshift64*, seeded through splitmix64 so that any seed (even 0) gives a good stream.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.index(items.len())]
    }

    /// Inclusive range.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.index(high - low + 1)
    }

    /// Seconds in `0..max`, most of them early: replies come soon or not at all.
    fn early_seconds(&mut self, max: i64) -> i64 {
        let u = self.unit();
        (u * u * max.max(1) as f64) as i64
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

// ---------------------------------------------------------------------------------------------
// People

struct Person {
    name: &'static str,
    email: &'static str,
    /// Background colour of the generated avatar; `None` for people without one.
    avatar: Option<&'static str>,
    bio: &'static str,
    role: Role,
}

const AUTHORS: &[Person] = &[
    Person {
        name: "Clara Mendes",
        email: "clara@example.org",
        avatar: Some("2f6f8f"),
        bio: "Runs the engineering team and this blog. Writes mostly about Rust, databases, and the \
              habits that keep small systems reliable.",
        role: Role::Admin,
    },
    Person {
        name: "Daniel Osei",
        email: "daniel@example.org",
        avatar: Some("8f4a2f"),
        bio: "Co-founder. Sells, hires, and carries the pager one week in four. Believes most \
              problems are communication problems wearing a technical costume.",
        role: Role::Author,
    },
    Person {
        name: "Ruth Abernathy",
        email: "ruth@example.org",
        avatar: None,
        bio: "Front-end developer and occasional editor. Cares about fast pages, readable prose, \
              and plain-text notes.",
        role: Role::Author,
    },
];

const READERS: &[Person] = &[
    Person {
        name: "Priya Raman",
        email: "priya@example.net",
        avatar: Some("6b4f9e"),
        bio: "",
        role: Role::Reader,
    },
    Person {
        name: "Tomás Ferreira",
        email: "tomas@example.net",
        avatar: Some("3e7d4a"),
        bio: "",
        role: Role::Reader,
    },
    Person {
        name: "Hannah Okafor",
        email: "hannah@example.net",
        avatar: None,
        bio: "",
        role: Role::Reader,
    },
    Person {
        name: "Jonas Lindqvist",
        email: "jonas@example.net",
        avatar: Some("a0522d"),
        bio: "",
        role: Role::Reader,
    },
    Person {
        name: "Mei Chen",
        email: "mei@example.net",
        avatar: None,
        bio: "",
        role: Role::Reader,
    },
    Person {
        name: "Sam Whitaker",
        email: "sam@example.net",
        avatar: Some("4a6fa5"),
        bio: "",
        role: Role::Reader,
    },
];

/// Commenters without an account, as imported from an older blog.
const GUESTS: &[(&str, Option<&str>)] = &[
    ("Marcus Bell", Some("https://marcusbell.example.com/")),
    ("Lena K.", None),
    ("Ravi", None),
    ("Ada Oyelaran", Some("https://ada.example.net/")),
    ("Old Reader", None),
];

fn new_user(person: &Person) -> NewUser {
    NewUser {
        display_name: person.name.to_owned(),
        slug: None,
        email: Some(person.email.to_owned()),
        avatar_url: person
            .avatar
            .map(|colour| avatar_data_uri(person.name, colour)),
        bio: person.bio.to_owned(),
        role: person.role,
    }
}

/// A round badge with the person's initials: nothing outside the site is reachable from a demo.
fn avatar_data_uri(name: &str, colour: &str) -> String {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    format!(
        "data:image/svg+xml,%3Csvg%20xmlns='http://www.w3.org/2000/svg'%20viewBox='0%200%2048%2048'%3E\
         %3Crect%20width='48'%20height='48'%20fill='%23{colour}'/%3E\
         %3Ctext%20x='24'%20y='31'%20font-family='sans-serif'%20font-size='18'%20fill='white'%20text-anchor='middle'%3E\
         {initials}%3C/text%3E%3C/svg%3E"
    )
}

/// Topics lean towards one author each, as on a real team blog.
fn pick_author(rng: &mut Rng, topic: usize) -> usize {
    if rng.chance(0.2) {
        rng.index(AUTHORS.len())
    } else {
        TOPICS[topic].author
    }
}

// ---------------------------------------------------------------------------------------------
// Posts

struct Topic {
    /// `Parent > Child` files the post under a nested category.
    category: &'static str,
    author: usize,
    tags: &'static [&'static str],
    /// Noun phrases as they read inside a sentence; titles capitalise them.
    subjects: &'static [&'static str],
    snippets: &'static [(&'static str, &'static str)],
    /// Sentences only a post on this topic would contain.
    lines: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        category: "Engineering > Rust",
        author: 0,
        tags: &["Rust", "Performance", "Tooling", "Testing", "Async"],
        subjects: &[
            "async Rust",
            "the borrow checker",
            "error handling",
            "compile times",
            "trait objects",
            "cargo workspaces",
            "unsafe code",
            "lifetimes",
            "Tokio",
            "property tests",
            "feature flags",
            "procedural macros",
        ],
        snippets: &[
            (
                "rust",
                "async fn recent_posts(store: &Store, count: u64) -> Result<Vec<PostLink>, StorageError> {\n    \
                 let links = store.recent_post_links(count).await?;\n    \
                 Ok(links.into_iter().filter(|l| !l.title.is_empty()).collect())\n}",
            ),
            (
                "rust",
                "#[derive(Debug, thiserror::Error)]\npub enum ImportError {\n    \
                 #[error(\"line {line}: {message}\")]\n    Parse { line: usize, message: String },\n    \
                 #[error(transparent)]\n    Io(#[from] std::io::Error),\n}",
            ),
            (
                "rust",
                "let handles: Vec<_> = urls\n    .into_iter()\n    .map(|url| tokio::spawn(fetch(url)))\n    \
                 .collect();\nfor handle in handles {\n    let page = handle.await??;\n    pages.push(page);\n}",
            ),
            (
                "toml",
                "[profile.release]\ncodegen-units = 4\nlto = \"thin\"\n\n[profile.dev]\ndebug = \"line-tables-only\"",
            ),
        ],
        lines: &[
            "The compiler rejected our first design, and in hindsight the compiler was right.",
            "Most of our compile time went into two crates we barely used.",
            "Moving the blocking file access off the async runtime removed the strangest stalls we had.",
            "An error type per crate felt like ceremony until the first time an error message told us exactly what was wrong.",
            "Clippy caught more real bugs than our code review did that month.",
        ],
    },
    Topic {
        category: "Engineering > Databases",
        author: 0,
        tags: &[
            "PostgreSQL",
            "SQLite",
            "Performance",
            "Migrations",
            "Backups",
        ],
        subjects: &[
            "PostgreSQL",
            "SQLite",
            "connection pools",
            "schema migrations",
            "query plans",
            "full-text search",
            "read replicas",
            "vacuum",
            "composite indexes",
            "backups",
            "write-ahead logging",
            "foreign keys",
        ],
        snippets: &[
            (
                "sql",
                "CREATE INDEX CONCURRENTLY posts_published_idx\n    ON posts (published_at DESC)\n    \
                 WHERE status = 'published';",
            ),
            (
                "sql",
                "EXPLAIN (ANALYZE, BUFFERS)\nSELECT id, title\nFROM posts\nWHERE author_id = 42\n\
                 ORDER BY published_at DESC\nLIMIT 10;",
            ),
            (
                "sql",
                "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\nPRAGMA busy_timeout = 5000;",
            ),
            (
                "bash",
                "pg_dump --format=custom --file=\"blog-$(date +%F).dump\" \"$DATABASE_URL\"\n\
                 pg_restore --list \"blog-$(date +%F).dump\" | head",
            ),
        ],
        lines: &[
            "The query planner was doing exactly what we asked, which was the problem.",
            "A restore we had never rehearsed took four hours; the rehearsed one takes twelve minutes.",
            "SQLite handled far more traffic than we expected, as long as only one process wrote at a time.",
            "Adding the index took a minute; finding out which index to add took an afternoon with EXPLAIN.",
            "We now run every migration against a copy of production data before it ships.",
        ],
    },
    Topic {
        category: "Engineering > Operations",
        author: 1,
        tags: &["Deployment", "Observability", "On-call", "Linux"],
        subjects: &[
            "on-call rotations",
            "blue-green deploys",
            "structured logging",
            "runbooks",
            "incident reviews",
            "alert fatigue",
            "systemd",
            "reverse proxies",
            "TLS certificates",
            "capacity planning",
            "disk space",
            "Prometheus metrics",
        ],
        snippets: &[
            (
                "ini",
                "[Service]\nExecStart=/usr/local/bin/folio serve --config /etc/folio/folio.toml\n\
                 Restart=on-failure\nDynamicUser=yes\nStateDirectory=folio",
            ),
            (
                "bash",
                "#!/usr/bin/env bash\nset -euo pipefail\ndf -h /var/lib | awk 'NR > 1 && $5+0 > 85 { exit 1 }'",
            ),
            (
                "yaml",
                "groups:\n  - name: blog\n    rules:\n      - alert: SlowPages\n        \
                 expr: histogram_quantile(0.99, rate(http_request_seconds_bucket[5m])) > 0.5\n        for: 10m",
            ),
        ],
        lines: &[
            "The pager went off at 3 a.m. for a disk that had been filling up, slowly and visibly, for a month.",
            "Every alert now links to a runbook, and every runbook starts with how to tell whether the alert is real.",
            "Structured logs turned a two-hour search into a two-minute query.",
            "Our deploys got boring the week we made rolling back a single command.",
            "The incident review found no villain, only a process that asked people to remember too much.",
        ],
    },
    Topic {
        category: "Engineering > Web",
        author: 2,
        tags: &["HTML", "CSS", "Accessibility", "Performance", "Feeds"],
        subjects: &[
            "server-rendered HTML",
            "CSS grid",
            "web fonts",
            "accessibility audits",
            "caching headers",
            "progressive enhancement",
            "form validation",
            "RSS feeds",
            "dark mode",
            "image formats",
            "HTTP/2",
            "cookies",
        ],
        snippets: &[
            (
                "css",
                ".entry-content {\n  max-width: 40rem;\n  margin-inline: auto;\n  line-height: 1.6;\n}\n\n\
                 @media (prefers-color-scheme: dark) {\n  :root { --color-bg: #111; }\n}",
            ),
            (
                "html",
                "<form id=\"commentform\" method=\"post\" action=\"/comments\">\n  \
                 <label for=\"comment\">Comment</label>\n  <textarea id=\"comment\" name=\"comment\" required></textarea>\n  \
                 <button type=\"submit\">Post Comment</button>\n</form>",
            ),
            (
                "http",
                "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\nCache-Control: public, max-age=60\nETag: \"v42\"",
            ),
        ],
        lines: &[
            "The page got faster when we removed things, not when we added a framework.",
            "A screen reader user found three problems in ten minutes that our automated audit never flagged.",
            "Plain HTML forms still work when the JavaScript fails to load, which is more often than you think.",
            "Setting the right cache headers did more for our users than a month of front-end tuning.",
            "People still read this blog through RSS, and they are some of our most attentive readers.",
        ],
    },
    Topic {
        category: "Business > Sales",
        author: 1,
        tags: &["Sales", "Customers", "Startups", "Pricing"],
        subjects: &[
            "discovery calls",
            "pricing pages",
            "cold email",
            "annual contracts",
            "the sales pipeline",
            "free trials",
            "procurement",
            "renewals",
            "product demos",
            "discounts",
            "customer references",
            "churn",
        ],
        snippets: &[
            (
                "yaml",
                "plans:\n  - name: Team\n    price_per_month: 49\n    seats: 10\n  - name: Business\n    \
                 price_per_month: 199\n    seats: 50\n    annual_discount: 0.15",
            ),
            (
                "text",
                "Subject: Quick question about your blog migration\n\nHi Sam,\n\nYou mentioned last week that the \
                 import took a whole weekend.\nWould a 20-minute call on Thursday help?",
            ),
        ],
        lines: &[
            "The best sales calls sound like two people solving a problem together.",
            "Customers trust a vendor more after hearing what the product cannot do.",
            "Publishing our prices shortened the sales cycle by weeks.",
            "Renewals are won or lost in the first month of onboarding, not in the last month of the contract.",
            "Half of our pipeline came from people who had read this blog for a year before getting in touch.",
        ],
    },
    Topic {
        category: "Business > Hiring",
        author: 1,
        tags: &["Hiring", "Remote work", "Teams", "Management"],
        subjects: &[
            "take-home exercises",
            "job descriptions",
            "onboarding",
            "reference checks",
            "interview loops",
            "salary bands",
            "remote interviews",
            "the first week",
            "career ladders",
            "one-on-ones",
            "probation periods",
            "offer letters",
        ],
        snippets: &[
            (
                "yaml",
                "interview_loop:\n  - step: intro call\n    minutes: 30\n  - step: pairing session\n    \
                 minutes: 90\n  - step: meet the team\n    minutes: 45",
            ),
            (
                "markdown",
                "## Your first week\n\n- Day 1: laptop, accounts, lunch with the team\n- Day 2: ship a one-line fix\n\
                 - Day 5: demo what you learned",
            ),
        ],
        lines: &[
            "Candidates remember how an interview made them feel long after they forget the questions.",
            "Our job descriptions got shorter and our applicants got better.",
            "The first week of a new hire tells you how well your documentation really works.",
            "We stopped asking for take-home exercises longer than two hours, and nobody missed them.",
            "Salary bands removed a surprising amount of anxiety, on both sides of the table.",
        ],
    },
    Topic {
        category: "Writing",
        author: 2,
        tags: &["Writing", "Blogging", "Documentation", "Books"],
        subjects: &[
            "first drafts",
            "technical writing",
            "changelogs",
            "design documents",
            "README files",
            "release notes",
            "editing",
            "blog posts",
            "outlines",
            "style guides",
            "documentation",
            "newsletters",
        ],
        snippets: &[
            (
                "markdown",
                "## 1.4.0 — 2025-03-02\n\n### Fixed\n- Replies to held comments no longer vanish.\n\n### Changed\n\
                 - Feeds include the full post by default.",
            ),
            (
                "text",
                "Problem:   what hurts, for whom, how often\nProposal:  the smallest change that helps\nRisks:     what we give up\nDecision:  who decides, and by when",
            ),
        ],
        lines: &[
            "The first draft is for finding out what you think; the second is for the reader.",
            "A good changelog answers one question: what does this mean for me?",
            "Design documents that get read are short, dated, and honest about what they leave out.",
            "Cutting a post by a third almost always makes it better.",
            "Writing the README before the code saved us from building the wrong thing twice.",
        ],
    },
    Topic {
        category: "Notes",
        author: 2,
        tags: &["Notes", "Tools", "Books", "Productivity"],
        subjects: &[
            "plain text",
            "keyboard shortcuts",
            "note-taking",
            "the command line",
            "dotfiles",
            "reading lists",
            "weekly reviews",
            "side projects",
            "time zones",
            "shell scripts",
            "standing desks",
            "calendars",
        ],
        snippets: &[
            (
                "bash",
                "# Every note from this week, newest first\nfind ~/notes -name '*.md' -mtime -7 -print0 \\\n  \
                 | xargs -0 ls -t | head -20",
            ),
            (
                "bash",
                "alias today='$EDITOR ~/notes/$(date +%F).md'\nalias week='grep -h \"^- \\[ \\]\" ~/notes/*.md'",
            ),
        ],
        lines: &[
            "A folder of plain-text files has outlived every note-taking app I have tried.",
            "My weekly review takes thirty minutes and saves me from a lot of Monday panic.",
            "Learning ten keyboard shortcuts well beats learning a hundred badly.",
            "Working across time zones forced us to write things down, which turned out to be the real benefit.",
            "Most of my side projects end up as shell scripts, and that is fine.",
        ],
    },
];

/// Hand-written titles, used first (newest posts) so that a small demo reads like a real blog.
/// (title, topic, subject)
const CURATED_TITLES: &[(&str, usize, usize)] = &[
    ("What We Learned Migrating to PostgreSQL", 1, 0),
    ("Server-Rendered HTML Is Fine, Actually", 3, 0),
    ("Hiring Your First Engineer", 5, 1),
    ("The Night the Disk Filled Up", 2, 10),
    ("Async Rust Without Tears", 0, 0),
    ("Write the README First", 6, 4),
    ("The Discovery Call Is the Product", 4, 0),
    ("A Year of Plain-Text Notes", 7, 0),
    ("SQLite Is Enough, Until It Isn't", 1, 1),
    ("Boring Deploys Are Good Deploys", 2, 1),
    ("The Take-Home Exercise We Stopped Giving", 5, 0),
    ("Why This Blog Still Has an RSS Feed", 3, 7),
    ("The Borrow Checker Was Right", 0, 1),
    ("Changelogs Are Letters to Your Users", 6, 2),
    ("Why We Put Our Prices on the Website", 4, 1),
    ("My Weekly Review, Step by Step", 7, 6),
    ("Our Backups Worked. Our Restores Didn't.", 1, 9),
    ("Alerts Should Wake You for a Reason", 2, 5),
    ("Accessibility Is a Feature, Not a Checklist", 3, 3),
    ("Onboarding Is a Product Too", 5, 2),
    ("Rewriting Our Importer in Rust", 0, 2),
    ("How I Edit My Own Drafts", 6, 6),
    ("Nobody Reads Your Pitch Deck", 4, 8),
    ("Working Across Nine Time Zones", 7, 8),
    ("The Index We Forgot", 1, 8),
    ("Runbooks Nobody Reads", 2, 3),
    ("The Fastest Page Is the One You Don't Load", 3, 4),
    ("Write the Job Description Last", 5, 1),
    ("Error Messages Are a Feature", 0, 2),
    ("Design Documents That Get Read", 6, 3),
    ("Renewals Start on Day One", 4, 7),
    ("Tools I Stopped Using", 7, 3),
];

/// The newest post: written out in full, since it tops the front page and the screenshots.
const NEWEST_TITLE: &str = "Sales Isn't Adversarial";
const NEWEST_TOPIC: usize = 4;
const NEWEST_BODY: &str = r#"For years I thought of selling as a contest: we wanted the money, the customer wanted to keep it, and the call was where we found out who was better at pretending. Then I noticed what our best customers had in common: early in the first conversation, we told them what our product was *bad* at.

## The call is a diagnosis

A good discovery call looks more like a doctor's appointment than a pitch. You ask questions, you listen, and sometimes the honest answer is "you don't need us".

- Ask what they tried before, and why it stopped working.
- Ask who else has to say yes.
- Ask what happens if they do nothing for six months.

> We didn't need more features. We needed the ones we had to work on Monday morning.
>
> — a customer, in a support ticket

## What changed when we stopped "closing"

We dropped the end-of-quarter discounts, put our prices on the website, and wrote down the three situations in which we recommend a competitor. Our close rate went *up*, from 17% to 25%.[^1]

Our pipeline now tracks problems, not people:

```yaml
stages:
  - name: diagnosed     # we know what hurts and who it hurts
  - name: fit_confirmed # we can fix it, and said what we can't
  - name: decided       # they chose, either way
```

None of this makes sales easy, but I no longer walk into a call expecting a fight. If you build the product and also sell it, you already know where it breaks. Lead with that.

[^1]: Fewer calls, because the pricing page now answers the questions that used to fill the first fifteen minutes.
"#;

/// Generic title shapes for generated posts; `{S}` is the subject in title case.
const TITLE_TEMPLATES: &[&str] = &[
    "Notes on {S}",
    "The Case for {S}",
    "In Defense of {S}",
    "{S} Is Not the Problem",
    "{S} Isn't What You Think",
    "A Year of {S}",
    "Five Things I Wish I'd Known About {S}",
    "{S}, Revisited",
    "What Nobody Tells You About {S}",
    "Getting {S} Right",
    "{S} Without the Hype",
    "Lessons From Three Years of {S}",
    "We Were Wrong About {S}",
    "A Field Guide to {S}",
    "Rethinking {S}",
    "How We Think About {S}",
    "{S} in Practice",
    "The Quiet Cost of {S}",
    "Everything I Know About {S}",
    "Why {S} Matters More Than You Think",
    "Stop Worrying About {S}",
    "An Honest Look at {S}",
    "{S}: A Postmortem",
    "Questions to Ask About {S}",
    "The Boring Parts of {S}",
    "Second Thoughts on {S}",
];

struct PostPlan {
    title: String,
    topic: usize,
    subject: usize,
    body: Option<&'static str>,
    published_at: OffsetDateTime,
}

struct CreatedPost {
    id: i64,
    path: String,
    published_at: OffsetDateTime,
    author: usize,
    subject: &'static str,
}

/// Titles and dates for `count` posts, newest first, spread over four years and all in the past.
fn plan_posts(rng: &mut Rng, count: usize, now: OffsetDateTime) -> Vec<PostPlan> {
    let mut plans = Vec::with_capacity(count);
    let mut seen = HashSet::new();
    if count > 0 {
        seen.insert(NEWEST_TITLE.to_owned());
        plans.push((NEWEST_TITLE.to_owned(), NEWEST_TOPIC, 0, Some(NEWEST_BODY)));
    }
    let mut curated: Vec<&(&str, usize, usize)> = CURATED_TITLES.iter().collect();
    rng.shuffle(&mut curated);
    for &&(title, topic, subject) in curated.iter().take(count.saturating_sub(plans.len())) {
        seen.insert(title.to_owned());
        plans.push((title.to_owned(), topic, subject, None));
    }
    let mut attempts = 0;
    while plans.len() < count {
        let topic = rng.index(TOPICS.len());
        let subject = rng.index(TOPICS[topic].subjects.len());
        let mut title = rng
            .pick_str(TITLE_TEMPLATES)
            .replace("{S}", &title_case(TOPICS[topic].subjects[subject]));
        attempts += 1;
        if attempts > 20 * count {
            // Every combination is taken (only with thousands of posts): number the sequels.
            title = format!("{title}, Part {}", plans.len() / 100 + 2);
        }
        if seen.insert(title.clone()) {
            plans.push((title, topic, subject, None));
        }
    }

    let newest_age = 40 * HOUR + rng.below(8 * 3600) as i64;
    let gap = if count > 1 {
        (HISTORY_SECONDS - newest_age) / (count as i64 - 1)
    } else {
        0
    };
    plans
        .into_iter()
        .enumerate()
        .map(|(i, (title, topic, subject, body))| {
            let jitter = if i == 0 || gap < 4 {
                0
            } else {
                rng.below((gap / 2) as u64) as i64 - gap / 4
            };
            let age = newest_age + gap * i as i64 + jitter;
            PostPlan {
                title,
                topic,
                subject,
                body,
                published_at: now - Duration::seconds(age),
            }
        })
        .collect()
}

fn title_case(phrase: &str) -> String {
    const SMALL: &[&str] = &["a", "an", "and", "the", "of", "in", "on", "to", "for", "or"];
    phrase
        .split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i > 0 && SMALL.contains(&word) {
                return word.to_owned();
            }
            // Capitalise each part of a hyphenated word: "take-home" -> "Take-Home".
            word.split('-')
                .map(capitalize)
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn post_categories(rng: &mut Rng, topic: &Topic) -> Vec<String> {
    let mut categories = vec![topic.category.to_owned()];
    if rng.chance(0.12) {
        let other = rng.pick(TOPICS).category;
        if other != topic.category {
            categories.push(other.to_owned());
        }
    }
    categories
}

fn post_tags(rng: &mut Rng, topic: &Topic) -> Vec<String> {
    let mut tags: Vec<&str> = topic.tags.to_vec();
    rng.shuffle(&mut tags);
    let mut chosen: Vec<String> = tags
        .iter()
        .take(rng.between(1, 3))
        .map(|t| (*t).to_owned())
        .collect();
    if rng.chance(0.25) {
        chosen.push(
            rng.pick_str(&["Lessons learned", "Opinion", "Case study"])
                .to_owned(),
        );
    }
    chosen
}

fn draft(rng: &mut Rng, author_id: i64) -> NewPost {
    let topic = rng.pick(TOPICS);
    NewPost {
        kind: PostKind::Post,
        title: format!(
            "Half-Finished Thoughts on {}",
            title_case(rng.pick_str(topic.subjects))
        ),
        slug: None,
        source:
            "Notes for a post that is not ready yet.\n\n- outline\n- examples\n- a better ending\n"
                .to_owned(),
        status: PostStatus::Draft,
        published_at: None,
        author_id,
        categories: vec![topic.category.to_owned()],
        tags: Vec::new(),
        comments_open: true,
        featured_image: None,
        password: None,
        parent_id: None,
        sticky: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Post bodies: Markdown that exercises the renderer (headings, lists, quotes, code, tables,
// footnotes, task lists, strikethrough).

const SENTENCES: &[&str] = &[
    "From the outside, {s} can look simple, and that is exactly why a second look pays off.",
    "We spent most of last quarter arguing about {s}, and the argument turned out to be more useful than the decision.",
    "The first version we shipped was fine; the second one was the one we were proud of.",
    "Nobody on the team had strong opinions about {s} until something broke.",
    "If you only take one thing from this post, make it this: write down what you expect before you measure.",
    "A small, boring change to {s} saved us more time than any rewrite.",
    "It is tempting to call {s} a solved problem; a well-understood problem is closer to the truth.",
    "Most advice about {s} is written for companies a hundred times our size.",
    "We kept a log of every surprise, and the log became the most valuable artifact of the whole project.",
    "The trade-off is real, and pretending otherwise helps nobody.",
    "Three people read the first draft of this plan, and all three asked the same question.",
    "There is a version of {s} that fits in a single afternoon, and it is usually the right one to start with.",
    "We measured twice and were still wrong once.",
    "Nothing here is new; it is just easy to forget under deadline pressure.",
    "The documentation was accurate, but it answered a different question than the one we had.",
    "When in doubt, we chose the option that would be easiest to undo.",
    "Our customers never asked about {s} directly, but they noticed when we got it wrong.",
    "The numbers improved slowly, then all at once.",
    "I would make the same call again, though I would explain it better.",
    "Good defaults beat clever configuration almost every time.",
    "The hardest part was agreeing on what done looked like.",
    "We wrote the checklist after the second incident, which is one incident later than we should have.",
    "Half of the work was deleting things that no longer earned their keep.",
    "That sounds obvious in hindsight; it did not feel obvious at the time.",
    "Whoever owns {s} should also be the one who gets paged when something breaks.",
    "A surprising share of the work on {s} comes down to naming things well.",
    "Every shortcut we took early on showed up again, with interest, a year later.",
    "We started by reading the code we already had, which was humbling.",
    "Asking \"what would we do with twice the traffic?\" turned out to be more useful than asking about ten times.",
    "The old approach was not wrong; it was built for a team we no longer were.",
    "I expected {s} to be the easy part. It was not.",
    "Our first instinct was to buy a tool; our second, better instinct was to write a page of notes.",
    "The change itself took a day, and explaining it took a week.",
    "Talking to the people affected changed the plan more than any benchmark did.",
    "It helps to remember who {s} should serve: the people using the product, not the team building it.",
    "We still get this wrong sometimes, but now we notice sooner.",
    "Looking back, the warning signs were all there in the support inbox.",
    "We gave ourselves two weeks and took five, which is about our usual ratio.",
    "The team that had lived with the old way for years had the best ideas about the new one.",
    "Some of our assumptions about {s} came from a blog post written in a very different decade.",
    "We argued less once we agreed on the one number we were trying to move.",
    "Reading other people's postmortems taught us more about {s} than any book.",
    "The fix was three lines; finding where those three lines belonged took two days.",
    "It is easy to build something clever and hard to build something the next person understands.",
    "We learned to distrust any plan that needed everything to go right.",
    "I now ask one question before every change to {s}: how would we know if this made things worse?",
    "Nobody reads a wiki page that nobody maintains, including the person who wrote it.",
    "It was not a technical problem first; it was a scheduling problem that looked technical.",
    "The quiet weeks after a change tell you more than the busy day of the launch.",
    "What surprised me most about {s} was how little of it was about technology.",
];

const LATENCY_SENTENCES: &[&str] = &[
    "Median latency barely moved, but the slowest requests got much faster, and those are the ones people remember.",
    "We now watch tail latency on every release instead of the average.",
    "Latency is a feature: people feel it long before they can name it.",
    "Our rule of thumb is simple: if latency goes up, the change waits.",
    "The latency graph told the story before anyone filed a ticket.",
];

const HEADINGS: &[&str] = &[
    "Where we started",
    "What went wrong",
    "The fix",
    "What we measured",
    "The trade-offs",
    "A short detour",
    "The part nobody mentions",
    "What changed",
    "Why it matters",
    "How we rolled it out",
    "In practice",
    "The numbers",
    "Open questions",
    "What I'd do differently",
    "A note on tooling",
    "The first attempt",
];

const CLOSING_HEADINGS: &[&str] = &[
    "Wrapping up",
    "Takeaways",
    "Where this leaves us",
    "What's next",
];

const LIST_ITEMS: &[&str] = &[
    "Write down what you expect from {s} before changing anything.",
    "Measure before and after, on the same hardware.",
    "Keep the old path working until the new one has earned trust.",
    "Make the safe option the default.",
    "Automate the second time, not the first.",
    "Tell people what changed, and why.",
    "Delete the feature flag once the rollout is done.",
    "Review the results a month later, not a day later.",
    "Budget time for the migration *and* the clean-up.",
    "Ask the person who gets paged.",
    "Prefer ~~clever~~ obvious solutions.",
    "Keep a written log of decisions and their reasons.",
    "Start with the smallest version of {s} that could possibly help.",
    "Pair on the first one, review the second, let the third go alone.",
    "Put a date on every temporary workaround.",
];

const QUOTES: &[(&str, &str)] = &[
    (
        "Simplicity is prerequisite for reliability.",
        "Edsger W. Dijkstra",
    ),
    ("Make it work, make it right, make it fast.", "Kent Beck"),
    (
        "Plans are worthless, but planning is everything.",
        "Dwight D. Eisenhower",
    ),
    (
        "Writing is nature's way of letting you know how sloppy your thinking is.",
        "Dick Guindon",
    ),
    (
        "If you can't explain it simply, you don't understand it well enough.",
        "attributed to Albert Einstein",
    ),
    (
        "The most dangerous phrase in the language is \"we've always done it this way.\"",
        "Grace Hopper",
    ),
    (
        "Programs must be written for people to read, and only incidentally for machines to execute.",
        "Harold Abelson",
    ),
    (
        "We didn't need more features. We needed the ones we had to work on Monday morning.",
        "a customer, in a support ticket",
    ),
    ("Hope is not a strategy.", "an old operations saying"),
];

const FOOTNOTES: &[&str] = &[
    "We tried this twice. The first attempt is not worth describing.",
    "The numbers come from our staging environment, which is smaller than production.",
    "Yes, we checked the clocks first.",
    "This is the polite version of the conversation.",
    "A colleague pointed out that this is also how the previous system started. Fair.",
];

const TABLE_ROWS: &[&str] = &[
    "Time to first response",
    "Pages per second",
    "Support tickets per week",
    "Deploys per week",
    "Median build time (s)",
    "Errors per 10k requests",
];

fn fill_subject(template: &str, subject: &str) -> String {
    template
        .replace("{S}", &capitalize(subject))
        .replace("{s}", subject)
}

/// The sentences of one post: none twice, and now and then a line only its topic would have.
struct Prose {
    subject: &'static str,
    topic_lines: &'static [&'static str],
    used: HashSet<usize>,
    used_lines: HashSet<usize>,
}

impl Prose {
    fn new(topic: &Topic, subject: &'static str) -> Self {
        Prose {
            subject,
            topic_lines: topic.lines,
            used: HashSet::new(),
            used_lines: HashSet::new(),
        }
    }

    fn sentence(&mut self, rng: &mut Rng) -> String {
        if self.used.len() == SENTENCES.len() {
            self.used.clear();
        }
        loop {
            let i = rng.index(SENTENCES.len());
            if self.used.insert(i) {
                return fill_subject(SENTENCES[i], self.subject);
            }
        }
    }

    /// Between `fewest` and `most` sentences.
    fn paragraph(&mut self, rng: &mut Rng, fewest: usize, most: usize) -> String {
        let count = rng.between(fewest, most);
        let mut sentences: Vec<String> = (0..count).map(|_| self.sentence(rng)).collect();
        if self.used_lines.len() < self.topic_lines.len() && rng.chance(0.4) {
            loop {
                let i = rng.index(self.topic_lines.len());
                if self.used_lines.insert(i) {
                    let at = rng.index(sentences.len() + 1);
                    sentences.insert(at, self.topic_lines[i].to_owned());
                    break;
                }
            }
        }
        sentences.join(" ")
    }
}

fn push(md: &mut String, block: String) {
    md.push_str(&block);
    md.push_str("\n\n");
}

fn post_body(rng: &mut Rng, topic: &Topic, subject_index: usize) -> String {
    let subject = topic.subjects[subject_index];
    let mut prose = Prose::new(topic, subject);
    let mut headings: Vec<&str> = HEADINGS.to_vec();
    rng.shuffle(&mut headings);
    let mut md = String::with_capacity(4096);

    push(&mut md, prose.paragraph(rng, 3, 5));
    let mut second = prose.paragraph(rng, 2, 4);
    if rng.chance(0.45) {
        second.push(' ');
        second.push_str(rng.pick_str(LATENCY_SENTENCES));
    }
    push(&mut md, second);

    push(&mut md, format!("## {}", headings[0]));
    push(&mut md, prose.paragraph(rng, 3, 5));
    let mut items: Vec<&str> = LIST_ITEMS.to_vec();
    rng.shuffle(&mut items);
    let list: Vec<String> = items
        .iter()
        .take(rng.between(3, 5))
        .map(|item| format!("- {}", fill_subject(item, subject)))
        .collect();
    push(&mut md, list.join("\n"));
    push(&mut md, prose.paragraph(rng, 2, 4));

    let (quote, source) = rng.pick(QUOTES);
    push(&mut md, format!("> {quote}\n>\n> — {source}"));

    push(&mut md, format!("## {}", headings[1]));
    push(&mut md, prose.paragraph(rng, 2, 4));
    let (language, code) = rng.pick(topic.snippets);
    push(&mut md, format!("```{language}\n{code}\n```"));
    let emphasis = format!(
        "The important part is **{}**, not the tooling around it. {}",
        subject,
        prose.sentence(rng)
    );
    push(&mut md, emphasis);

    if rng.chance(0.35) {
        let mut rows: Vec<&str> = TABLE_ROWS.to_vec();
        rng.shuffle(&mut rows);
        let mut table = String::from("| Measure | Before | After |\n| --- | ---: | ---: |");
        for row in rows.iter().take(rng.between(2, 4)) {
            let before = rng.between(20, 400);
            let after = before * rng.between(40, 95) / 100;
            table.push_str(&format!("\n| {row} | {before} | {after} |"));
        }
        push(&mut md, table);
    }

    push(&mut md, format!("### {}", headings[2]));
    let steps: Vec<String> = (1..=rng.between(3, 4))
        .map(|i| format!("{i}. {}", fill_subject(items[items.len() - i], subject)))
        .collect();
    push(&mut md, steps.join("\n"));
    if rng.chance(0.2) {
        push(
            &mut md,
            "- [x] Write it down\n- [x] Try it on one project\n- [ ] Make it the default everywhere".to_owned(),
        );
    }

    let footnote = rng.chance(0.3).then(|| rng.pick_str(FOOTNOTES));
    let mut last = prose.paragraph(rng, 2, 3);
    if footnote.is_some() {
        last.push_str("[^1]");
    }
    push(&mut md, last);

    push(&mut md, format!("## {}", rng.pick_str(CLOSING_HEADINGS)));
    push(&mut md, prose.paragraph(rng, 2, 4));
    if let Some(note) = footnote {
        push(&mut md, format!("[^1]: {note}"));
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

// ---------------------------------------------------------------------------------------------
// Pages

struct Page {
    title: &'static str,
    source: &'static str,
}

const PAGES: &[Page] = &[
    Page {
        title: "About",
        source: r#"This is the engineering and company blog of a small software team. We write about the things we build, the mistakes we make building them, and the unglamorous work of running a business.

## Who writes here

- **Clara Mendes** leads engineering and writes about Rust, databases, and reliability.
- **Daniel Osei** co-founded the company; he writes about sales, hiring, and operations.
- **Ruth Abernathy** builds the front end and edits most of what you read here.

## House rules

> Be kind, be specific, and assume the other person is smart.

Comments are open on recent posts. The first comment from a new reader waits for a quick look from one of us; after that, you are in.
"#,
    },
    Page {
        title: "Contact",
        source: r#"The best way to reach us is email: **hello@example.org**. We read everything and answer most things within two working days.

## Other ways

1. Leave a comment on the post you are writing about.
2. Follow the [RSS feed](/feed/) or the [Atom feed](/feed/atom/) to hear about new posts.
3. For security issues, write to **security@example.org**; please do not open a public discussion first.

We do not accept guest posts or sponsored content.
"#,
    },
    Page {
        title: "Colophon",
        source: r#"This site runs on Folio, a small blogging engine written in Rust. Pages are rendered on the server; there is no JavaScript framework and almost no JavaScript at all.

## How it is built

| Part | What we use |
| --- | --- |
| Server | Rust, axum, Tokio |
| Database | SQLite in development, PostgreSQL in production |
| Markup | Markdown, rendered with pulldown-cmark |
| Type | the system font stack |

Posts are written in Markdown with a small header:

```toml
+++
title = "Sales Isn't Adversarial"
date = "2025-01-14T09:00:00Z"
categories = ["Business > Sales"]
tags = ["Sales", "Customers"]
+++
```

Everything is backed up nightly, and the restore is tested monthly.[^1]

[^1]: Since the night we learned the difference between a backup and a restore.
"#,
    },
];

// ---------------------------------------------------------------------------------------------
// Comments

const TOP_LEVEL: &[&str] = &[
    "This matches our experience with {s} almost exactly. The part about measuring first is the one people skip.",
    "Great write-up. Did you consider doing it incrementally instead? We tried a big-bang switch once and regretted it.",
    "I disagree a little: for a team of three, the bottleneck is rarely {s}. It is hiring.",
    "Bookmarked. Could you share the numbers from before the change?",
    "We did something similar last year. The one thing I'd add: write the rollback plan *before* you start.",
    "How long did the whole thing take, end to end?",
    "Thanks for writing this up. The checklist alone is worth sharing with my team.",
    "Interesting. What made you pick this over the obvious alternative?",
    "I've been going back and forth on {s} for months. This helped.",
    "> The trade-off is real, and pretending otherwise helps nobody.\n\nThis line deserves to be framed.",
    "Curious whether this still holds once you have more than one server.",
    "Sent this to our whole team. We are having exactly this argument about {s} right now.",
    "One small correction: the second list item contradicts the table a bit, unless I'm misreading it.",
    "Loved this. More posts like this one, please.",
    "We went the other way on {s} and have been mostly happy, but I recognise every problem you describe.",
    "Do you have a reading list for someone starting out with {s}?",
];

/// Replies to a question.
const ANSWERS: &[&str] = &[
    "Good question. Roughly six weeks, most of it waiting on other teams.",
    "We did consider it. The short answer is that we didn't trust our tests enough yet.",
    "Not yet, but it's on the list for next quarter.",
    "Depends on the team, honestly. Ours was small enough that it didn't matter.",
    "Mostly the second reason. I'll add a paragraph about why.",
    "It does, with one caveat: something has to be the single place that decides. For us that is the database.",
    "I'll dig them out and add them to the post. From memory, about a third better on the slow end.",
];

/// Replies to anything else.
const RESPONSES: &[&str] = &[
    "Fair point. For us the bottleneck was somewhere else, but I can see it.",
    "Agreed, and that's the part I wish I'd written more about.",
    "Same here. It took us two tries.",
    "Thanks! Glad it was useful.",
    "I'd love to read a follow-up on that.",
    "That's a great tip, thank you.",
    "Ha, yes. We learned that one the hard way too.",
    "+1. The rollback plan saved us twice.",
    "Could you say more about how you measured that?",
    "Exactly this. We seem to relearn it every couple of years.",
    "We tried exactly that with {s}. It works until it doesn't, and then it really doesn't.",
    "Counterpoint: the obvious alternative is obvious for a reason. But I take the point.",
];

/// Who wrote a comment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Author(usize),
    Reader(usize),
    Guest(usize),
}

struct Commenters<'a> {
    author_ids: &'a [i64],
    author_names: &'a [String],
    reader_ids: &'a [i64],
}

/// One scripted comment of the newest post's conversation: (parent index in the script, who,
/// text, approved). `Who::Author(usize::MAX)` stands for the post's own author.
type Scripted = (Option<usize>, Who, &'static str, bool);

const POST_AUTHOR: Who = Who::Author(usize::MAX);

const NEWEST_CONVERSATION: &[Scripted] = &[
    (
        None,
        Who::Reader(0),
        "This resonates. The best salesperson I ever worked with spent half of every call trying to talk customers *out* of the wrong plan.",
        true,
    ),
    (
        Some(0),
        POST_AUTHOR,
        "That's exactly the kind of person I had in mind. Trust compounds: a customer who doesn't fit costs you twice, once in support and once when they leave.",
        true,
    ),
    (
        Some(1),
        Who::Guest(0),
        "Devil's advocate: some parts really are zero-sum. Procurement squeezing the price on the last day of the quarter, for one.",
        true,
    ),
    (
        Some(2),
        POST_AUTHOR,
        "True, the last negotiation can feel that way. But by then the part that matters, whether we solve their problem, is already settled.",
        true,
    ),
    (
        Some(2),
        Who::Reader(2),
        "We started sending our standard terms with the first proposal, and the end-of-quarter haggling mostly went away.",
        true,
    ),
    (
        None,
        Who::Reader(1),
        "Would love a follow-up on how you run discovery calls. Do you use a script?",
        true,
    ),
    (
        Some(5),
        POST_AUTHOR,
        "No script, but a short list of questions, most of them in the post. I'll write up the rest.",
        true,
    ),
    (Some(5), Who::Reader(4), "+1 for the follow-up.", true),
    (
        Some(6),
        Who::Reader(1),
        "Thanks! The \"what happens if you do nothing\" question alone has changed how I run these.",
        true,
    ),
    (
        None,
        Who::Guest(1),
        "Sharing this with our whole team. Thank you for writing it.",
        true,
    ),
    (
        None,
        Who::Guest(2),
        "Do you have any book recommendations on this?",
        false,
    ),
];

struct PlannedComment {
    post_id: i64,
    parent: Option<usize>,
    depth: u8,
    who: Who,
    source: String,
    status: CommentStatus,
    created_at: OffsetDateTime,
}

/// Every planned comment; a parent is always planned before its replies.
#[derive(Default)]
struct Thread {
    comments: Vec<PlannedComment>,
}

impl Thread {
    fn add_scripted(&mut self, post: &CreatedPost, script: &[Scripted], now: OffsetDateTime) {
        let base = self.comments.len();
        let available = (now - post.published_at).whole_seconds().max(2);
        for (i, &(parent, who, text, approved)) in script.iter().enumerate() {
            let who = if who == POST_AUTHOR {
                Who::Author(post.author)
            } else {
                who
            };
            let (parent, depth, created_at) = match parent {
                Some(p) => {
                    let up = &self.comments[base + p];
                    let left = (now - up.created_at).whole_seconds();
                    (
                        Some(base + p),
                        up.depth + 1,
                        up.created_at + Duration::seconds((left / 4).clamp(1, 3 * HOUR)),
                    )
                }
                None => {
                    let offset = (available / 3) * i64::try_from(i + 1).unwrap_or(1) / 12;
                    (
                        None,
                        1,
                        post.published_at + Duration::seconds(offset.max(1)),
                    )
                }
            };
            self.comments.push(PlannedComment {
                post_id: post.id,
                parent,
                depth,
                who,
                source: text.to_owned(),
                status: if approved {
                    CommentStatus::Approved
                } else {
                    CommentStatus::Pending
                },
                created_at,
            });
        }
    }

    fn add_generated(
        &mut self,
        rng: &mut Rng,
        post: &CreatedPost,
        count: usize,
        all_approved: bool,
        now: OffsetDateTime,
    ) {
        let base = self.comments.len();
        // Top-level comments arrive within three weeks, and end early enough for replies.
        let available = (now - post.published_at).whole_seconds() - 6 * HOUR;
        let window = available.clamp(600, 21 * DAY);
        for k in 0..count {
            let recent: Vec<usize> = (base..base + k)
                .rev()
                .take(8)
                .filter(|&i| self.comments[i].depth < MAX_DEPTH)
                .collect();
            let parent = (!recent.is_empty() && rng.chance(0.45)).then(|| *rng.pick(&recent));
            let (depth, created_at, who) = match parent {
                Some(p) => {
                    let up = &self.comments[p];
                    let left = (now - up.created_at).whole_seconds();
                    // Never later than halfway to now, so a whole chain stays in the past.
                    let delay = (120 + rng.early_seconds(2 * DAY)).min(left / 2).max(1);
                    let who = if up.who != Who::Author(post.author) && rng.chance(0.3) {
                        Who::Author(post.author)
                    } else {
                        reader_or_guest(rng, Some(up.who))
                    };
                    (up.depth + 1, up.created_at + Duration::seconds(delay), who)
                }
                None => {
                    let offset = 300 + rng.early_seconds(window);
                    (
                        1,
                        post.published_at + Duration::seconds(offset),
                        reader_or_guest(rng, None),
                    )
                }
            };
            let template = match parent {
                None => rng.pick_str(TOP_LEVEL),
                Some(p) if self.comments[p].source.trim_end().ends_with('?') => {
                    rng.pick_str(ANSWERS)
                }
                Some(_) => rng.pick_str(RESPONSES),
            };
            self.comments.push(PlannedComment {
                post_id: post.id,
                parent,
                depth,
                who,
                source: fill_subject(template, post.subject),
                status: CommentStatus::Approved,
                created_at,
            });
        }
        if all_approved {
            return;
        }
        // A few comments still wait for moderation: mostly guests', never one with replies.
        let parents: HashSet<usize> = self.comments[base..]
            .iter()
            .filter_map(|c| c.parent)
            .collect();
        for i in base..self.comments.len() {
            let p = if matches!(self.comments[i].who, Who::Guest(_)) {
                0.08
            } else {
                0.01
            };
            if !parents.contains(&i) && rng.chance(p) {
                self.comments[i].status = CommentStatus::Pending;
            }
        }
    }

    /// `count` approved comments in `conversations` threads: the top-level comments first,
    /// then each reply joins a random conversation, answering its opening comment or its
    /// latest reply (a long-running discussion, as a benchmark of big threads wants it).
    fn add_conversations(
        &mut self,
        rng: &mut Rng,
        post: &CreatedPost,
        count: usize,
        conversations: usize,
        now: OffsetDateTime,
    ) {
        let conversations = conversations.clamp(1, count.max(1));
        let available = (now - post.published_at).whole_seconds() - 6 * HOUR;
        let window = available.clamp(600, 21 * DAY);
        let mut members: Vec<Vec<usize>> = Vec::with_capacity(conversations);
        for _ in 0..conversations {
            let created_at = post.published_at + Duration::seconds(300 + rng.early_seconds(window));
            members.push(vec![self.comments.len()]);
            self.comments.push(PlannedComment {
                post_id: post.id,
                parent: None,
                depth: 1,
                who: reader_or_guest(rng, None),
                source: fill_subject(rng.pick_str(TOP_LEVEL), post.subject),
                status: CommentStatus::Approved,
                created_at,
            });
        }
        for _ in conversations..count {
            let thread = &mut members[rng.index(conversations)];
            let latest = thread.last().copied().unwrap_or(thread[0]);
            let parent = if self.comments[latest].depth < MAX_DEPTH && rng.chance(0.5) {
                latest
            } else {
                thread[0]
            };
            let up = &self.comments[parent];
            let left = (now - up.created_at).whole_seconds();
            let delay = (120 + rng.early_seconds(2 * DAY)).min(left / 2).max(1);
            let comment = PlannedComment {
                post_id: post.id,
                parent: Some(parent),
                depth: up.depth + 1,
                who: reader_or_guest(rng, Some(up.who)),
                source: fill_subject(rng.pick_str(RESPONSES), post.subject),
                status: CommentStatus::Approved,
                created_at: up.created_at + Duration::seconds(delay),
            };
            thread.push(self.comments.len());
            self.comments.push(comment);
        }
    }

    /// Writes the comments level by level, so every parent has its id before its replies go in.
    async fn insert(self, store: &Store, commenters: &Commenters<'_>) -> anyhow::Result<usize> {
        let mut ids: Vec<Option<i64>> = vec![None; self.comments.len()];
        for depth in 1..=MAX_DEPTH {
            let level: Vec<usize> = (0..self.comments.len())
                .filter(|&i| self.comments[i].depth == depth)
                .collect();
            for chunk in level.chunks(COMMENT_BATCH) {
                let mut batch = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    let planned = &self.comments[i];
                    let parent_id =
                        match planned.parent {
                            Some(p) => Some(ids[p].ok_or_else(|| {
                                anyhow::anyhow!("demo comment {i} has no parent id")
                            })?),
                            None => None,
                        };
                    let (author_id, author_name, author_url) = identity(planned.who, commenters);
                    batch.push(NewComment {
                        post_id: planned.post_id,
                        parent_id,
                        author_id,
                        author_name,
                        author_url,
                        source: planned.source.clone(),
                        status: planned.status,
                        created_at: Some(planned.created_at),
                        author_ip: None,
                    });
                }
                let created = store.create_comments(batch).await?;
                for (&i, comment) in chunk.iter().zip(&created) {
                    ids[i] = Some(comment.id);
                }
            }
        }
        Ok(self.comments.len())
    }
}

fn reader_or_guest(rng: &mut Rng, not: Option<Who>) -> Who {
    for _ in 0..4 {
        let who = if rng.chance(0.65) {
            Who::Reader(rng.index(READERS.len()))
        } else {
            Who::Guest(rng.index(GUESTS.len()))
        };
        if Some(who) != not {
            return who;
        }
    }
    Who::Reader(0)
}

fn identity(who: Who, commenters: &Commenters<'_>) -> (Option<i64>, String, Option<String>) {
    match who {
        Who::Author(i) => {
            let i = i.min(commenters.author_ids.len() - 1);
            (
                Some(commenters.author_ids[i]),
                commenters.author_names[i].clone(),
                None,
            )
        }
        Who::Reader(i) => (
            Some(commenters.reader_ids[i]),
            READERS[i].name.to_owned(),
            None,
        ),
        Who::Guest(i) => (None, GUESTS[i].0.to_owned(), GUESTS[i].1.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_one_line_of_json() {
        let summary = DemoSummary {
            posts: 2,
            comments: 3,
            post_with_50_comments: Some("/2024/01/02/a-\"quoted\"-post/".to_owned()),
            post_with_big_thread: None,
            search_term: "latency".to_owned(),
        };
        assert_eq!(
            summary.to_json(),
            r#"{"posts":2,"comments":3,"post_with_50_comments":"/2024/01/02/a-\"quoted\"-post/","post_with_big_thread":null,"search_term":"latency"}"#
        );
    }

    #[test]
    fn generated_titles_are_unique_and_in_the_past() {
        let now = whole_seconds(OffsetDateTime::now_utc());
        let plans = plan_posts(&mut Rng::new(7), 1000, now);
        let titles: HashSet<&str> = plans.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles.len(), 1000);
        assert!(
            plans
                .iter()
                .all(|p| p.published_at < now - Duration::days(1))
        );
        assert!(
            plans
                .windows(2)
                .all(|w| w[0].published_at > w[1].published_at)
        );
        assert_eq!(title_case("take-home exercises"), "Take-Home Exercises");
    }
}

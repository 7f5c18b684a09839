//! The WordPress import benchmark: a generated export of 10,000 posts and 200,000 comments
//! (deterministic, with realistic sizes and nested replies) imported by the release binary
//! into a fresh SQLite database, timed, with the importer's peak memory.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::release_binary;

pub const POSTS: u32 = 10_000;
pub const COMMENTS_PER_POST: u32 = 20;
pub const TARGET_SECONDS: f64 = 60.0;
pub const TARGET_MB: f64 = 200.0;

pub struct ImportFigures {
    pub file_mb: f64,
    pub seconds: f64,
    pub peak_rss_mb: f64,
}

impl ImportFigures {
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nWordPress import: a generated {:.0} MB export ({POSTS} posts, {} comments) into a fresh \
             SQLite database with the release `folio import wordpress`: {:.1} s (target under {TARGET_SECONDS:.0} s), \
             peak RSS {:.1} MB (target under {TARGET_MB:.0} MB).",
            self.file_mb,
            POSTS * COMMENTS_PER_POST,
            self.seconds,
            self.peak_rss_mb
        );
        out
    }
}

/// A small deterministic generator (xorshift), so that every run imports the same file.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "garden", "tomato", "soil", "water", "seed", "compost", "spring", "harvest", "bean", "leaf",
    "root", "sun", "rain", "frost", "bed", "row", "weed", "slug", "basil", "onion", "the", "and",
    "with", "from", "early", "late", "green", "red", "small", "tall", "grows", "needs", "after",
];

fn sentence(dice: &mut Dice, words: u64) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[dice.below(WORDS.len() as u64) as usize]);
    }
    out.push('.');
    out
}

pub fn generate(path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:wp=\"http://wordpress.org/export/1.2/\">\n<channel>\n\t<title>Bench Garden</title>\n\t<link>https://bench.example.com</link>\n\
         \t<wp:wxr_version>1.2</wp:wxr_version>\n\t<wp:base_site_url>https://bench.example.com</wp:base_site_url>"
    )?;
    for a in 1..=5 {
        writeln!(
            out,
            "\t<wp:author><wp:author_id>{a}</wp:author_id><wp:author_login><![CDATA[writer{a}]]></wp:author_login>\
             <wp:author_email><![CDATA[writer{a}@bench.example.com]]></wp:author_email><wp:author_display_name><![CDATA[Writer {a}]]></wp:author_display_name></wp:author>"
        )?;
    }
    for c in 1..=20 {
        let parent = if c > 5 {
            format!("topic-{}", c % 5 + 1)
        } else {
            String::new()
        };
        writeln!(
            out,
            "\t<wp:category><wp:term_id>{c}</wp:term_id><wp:category_nicename><![CDATA[topic-{c}]]></wp:category_nicename>\
             <wp:category_parent><![CDATA[{parent}]]></wp:category_parent><wp:cat_name><![CDATA[Topic {c}]]></wp:cat_name></wp:category>"
        )?;
    }
    for t in 1..=100 {
        writeln!(
            out,
            "\t<wp:tag><wp:term_id>{}</wp:term_id><wp:tag_slug><![CDATA[tag-{t}]]></wp:tag_slug><wp:tag_name><![CDATA[Tag {t}]]></wp:tag_name></wp:tag>",
            100 + t
        )?;
    }
    let mut comment_id = 1u64;
    for p in 1..=u64::from(POSTS) {
        let id = 1000 + p;
        let day = p % 28 + 1;
        let month = p / 28 % 12 + 1;
        let year = 2010 + p / 336;
        let mut content = String::new();
        for block in 0..(4 + dice.below(6)) {
            let words = 30 + dice.below(60);
            if block == 2 {
                let _ = write!(
                    content,
                    "[caption id=\"attachment_{id}\" align=\"aligncenter\" width=\"300\"]<img src=\"https://bench.example.com/wp-content/uploads/{year}/{month:02}/photo-{p}.jpg\" alt=\"photo\" width=\"300\" height=\"200\" /> {}[/caption]\n\n",
                    sentence(&mut dice, 6)
                );
            } else if block % 2 == 0 {
                let _ = write!(
                    content,
                    "<!-- wp:paragraph -->\n<p>{}</p>\n<!-- /wp:paragraph -->\n\n",
                    sentence(&mut dice, words)
                );
            } else {
                let _ = write!(
                    content,
                    "{}\n{}\n\n",
                    sentence(&mut dice, words),
                    sentence(&mut dice, 12)
                );
            }
        }
        write!(
            out,
            "\t<item>\n\t\t<title><![CDATA[{} {p}]]></title>\n\t\t<link>https://bench.example.com/{year}/{month:02}/{day:02}/post-{p}/</link>\n\
             \t\t<dc:creator><![CDATA[writer{}]]></dc:creator>\n\t\t<content:encoded><![CDATA[{content}]]></content:encoded>\n\
             \t\t<excerpt:encoded><![CDATA[]]></excerpt:encoded>\n\t\t<wp:post_id>{id}</wp:post_id>\n\
             \t\t<wp:post_date_gmt><![CDATA[{year}-{month:02}-{day:02} 10:00:00]]></wp:post_date_gmt>\n\
             \t\t<wp:comment_status><![CDATA[open]]></wp:comment_status>\n\t\t<wp:post_name><![CDATA[post-{p}]]></wp:post_name>\n\
             \t\t<wp:status><![CDATA[publish]]></wp:status>\n\t\t<wp:post_parent>0</wp:post_parent>\n\t\t<wp:post_type><![CDATA[post]]></wp:post_type>\n\
             \t\t<category domain=\"category\" nicename=\"topic-{}\"><![CDATA[Topic]]></category>\n\
             \t\t<category domain=\"post_tag\" nicename=\"tag-{}\"><![CDATA[Tag]]></category>\n\
             \t\t<wp:postmeta><wp:meta_key><![CDATA[_edit_last]]></wp:meta_key><wp:meta_value><![CDATA[1]]></wp:meta_value></wp:postmeta>\n",
            sentence(&mut dice, 5).trim_end_matches('.'),
            p % 5 + 1,
            p % 20 + 1,
            p % 100 + 1,
        )?;
        let first = comment_id;
        for c in 0..u64::from(COMMENTS_PER_POST) {
            // About a third are replies, to any earlier comment of the same post.
            let parent = if c > 0 && dice.below(3) == 0 {
                first + dice.below(c)
            } else {
                0
            };
            let who = dice.below(5000);
            let approved = match dice.below(50) {
                0 => "0",
                1 => "spam",
                _ => "1",
            };
            let words = 10 + dice.below(50);
            write!(
                out,
                "\t\t<wp:comment>\n\t\t\t<wp:comment_id>{comment_id}</wp:comment_id>\n\t\t\t<wp:comment_author><![CDATA[Reader {who}]]></wp:comment_author>\n\
                 \t\t\t<wp:comment_author_email><![CDATA[reader{who}@mail.example.org]]></wp:comment_author_email>\n\
                 \t\t\t<wp:comment_author_url>https://reader{who}.example.org</wp:comment_author_url>\n\
                 \t\t\t<wp:comment_author_IP><![CDATA[192.0.2.{}]]></wp:comment_author_IP>\n\
                 \t\t\t<wp:comment_date_gmt><![CDATA[{year}-{month:02}-{day:02} {:02}:{:02}:00]]></wp:comment_date_gmt>\n\
                 \t\t\t<wp:comment_content><![CDATA[{}\n\n{}]]></wp:comment_content>\n\
                 \t\t\t<wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved>\n\t\t\t<wp:comment_type><![CDATA[comment]]></wp:comment_type>\n\
                 \t\t\t<wp:comment_parent>{parent}</wp:comment_parent>\n\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n\t\t</wp:comment>\n",
                who % 250,
                11 + c / 60,
                c % 60,
                sentence(&mut dice, words),
                sentence(&mut dice, 8),
            )?;
            comment_id += 1;
        }
        writeln!(out, "\t</item>")?;
    }
    writeln!(out, "</channel>\n</rss>")?;
    out.flush()?;
    Ok(())
}

/// Generates the export (once), imports it into a fresh database, and measures.
pub fn run(bench_dir: &Path) -> anyhow::Result<ImportFigures> {
    let dir = bench_dir.join("wordpress");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let export = dir.join("export.xml");
    if !export.exists() {
        println!("generating {} ...", export.display());
        generate(&export)?;
    }
    let database = dir.join("import.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
    }
    // The schema first, so that the timing is the import's alone.
    let migrate = Command::new(release_binary())
        .arg("migrate")
        .env(
            "FOLIO__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .output()
        .context("running folio migrate")?;
    if !migrate.status.success() {
        bail!(
            "folio migrate failed: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
    }
    println!("importing {} ...", export.display());
    let started = Instant::now();
    let mut child = Command::new(release_binary())
        .args(["import", "wordpress"])
        .arg(&export)
        .env(
            "FOLIO__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .env("FOLIO__MEDIA__DIRECTORY", dir.join("media"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting folio import wordpress")?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        // VmHWM is the process's own high-water mark: the last reading before it exits is
        // its peak, short of the final few milliseconds.
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut summary = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut stdout, &mut summary);
    }
    if !status.success() {
        bail!("folio import wordpress failed ({status})");
    }
    print!("{summary}");
    let file_mb = std::fs::metadata(&export).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0);
    Ok(ImportFigures {
        file_mb,
        seconds,
        peak_rss_mb: peak_kib as f64 / 1024.0,
    })
}

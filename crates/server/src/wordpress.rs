//! `folio import wordpress FILE.xml [--uploads DIR]`: reads a WordPress export twice as a
//! stream, once to check it whole and learn its attachments, then to write it in one
//! transaction; copies the images it uses from the uploads folder into the media library.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use folio_domain::Taxonomy;
use folio_domain::markdown::decode_html_entities;
use folio_domain::wordpress::markup::{
    post_source, replace_urls, title_text_and_markup, upload_references,
};
use folio_domain::wordpress::{
    AttachmentIndex, AttachmentLookup, ItemFate, SkipReason, WxrError, WxrItem, WxrReader,
    WxrRecord, comment_fate, item_fate,
};
use folio_storage::{
    ImportCounts, ImportedAuthor, ImportedComment, ImportedPost, ImportedTerm, Store,
};
use folio_web::{DirectoryMedia, clean_upload};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where the files come from and go to.
pub struct WordPressImport<'a> {
    pub file: &'a Path,
    /// A copy of the old site's `wp-content/uploads`.
    pub uploads: Option<&'a Path>,
    pub media: DirectoryMedia,
}

/// What the import did, for the operator.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub site: String,
    pub counts: ImportCounts,
    pub attachments_copied: u64,
    pub attachments_kept: u64,
    pub files_copied: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(f, "Imported from {}:", self.site)?;
        writeln!(
            f,
            "  {} posts, {} pages, {} comments",
            c.posts, c.pages, c.comments
        )?;
        writeln!(
            f,
            "  {} authors, {} commenters (guests until they sign in with the same verified email), {} categories and tags",
            c.authors, c.commenters, c.terms
        )?;
        writeln!(
            f,
            "  {} attachments copied into the media library ({} files in all), {} kept at their original URLs",
            self.attachments_copied, self.files_copied, self.attachments_kept
        )?;
        writeln!(f, "  {} old addresses answer with a redirect", c.redirects)?;
        if c.already_there > 0 {
            writeln!(
                f,
                "  {} posts and comments were imported before and left as they are",
                c.already_there
            )?;
        }
        if c.parents_missing > 0 {
            writeln!(
                f,
                "  {} pages name a parent page that is not in the export: they stand at the top level",
                c.parents_missing
            )?;
        }
        if self.skipped.is_empty() {
            writeln!(f, "  nothing skipped")?;
        } else {
            let parts: Vec<String> = self
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {}", reason.describe()))
                .collect();
            writeln!(f, "  skipped: {}", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What the first reading learns.
struct Survey {
    site: String,
    /// `wp:base_site_url`, as earlier releases remembered imports under it.
    shared_site: String,
    attachments: AttachmentIndex,
    /// Attachment id → its path under `uploads`.
    attached_files: HashMap<i64, String>,
}

fn reader(path: &Path) -> anyhow::Result<(WxrReader<BufReader<File>>, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((
        WxrReader::new(BufReader::with_capacity(256 * 1024, file)),
        size,
    ))
}

fn located(path: &Path, error: WxrError) -> anyhow::Error {
    anyhow::anyhow!("{}: {error}", path.display())
}

fn progress_bar(size: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:10} [{bar:40}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

fn survey(path: &Path) -> anyhow::Result<Survey> {
    let (mut wxr, size) = reader(path)?;
    let bar = progress_bar(size, "checking");
    let mut site = String::new();
    let mut shared_site = String::new();
    let mut attachments = AttachmentIndex::default();
    let mut attached_files = HashMap::new();
    let mut seen = 0u64;
    while let Some(record) = wxr.next_record().map_err(|e| located(path, e))? {
        seen += 1;
        if seen.is_multiple_of(64) {
            bar.set_position(wxr.bytes_read());
        }
        match record {
            WxrRecord::Site {
                url, shared_url, ..
            } if site.is_empty() => {
                site = url;
                shared_site = shared_url;
            }
            WxrRecord::Item(item) if item.post_type == "attachment" => {
                let url = if item.attachment_url.is_empty() {
                    item.link.clone()
                } else {
                    item.attachment_url.clone()
                };
                let file = item
                    .meta("_wp_attached_file")
                    .map(str::to_owned)
                    .or_else(|| upload_references(&url).pop().map(|(_, path)| path));
                if let Some(file) = file {
                    attached_files.insert(item.id, file);
                }
                attachments.insert(item.id, url, item.title.clone(), item.parent);
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
    if site.is_empty() {
        anyhow::bail!(
            "{}: the export names no site (no <wp:base_site_url> or <link>)",
            path.display()
        );
    }
    Ok(Survey {
        site,
        shared_site,
        attachments,
        attached_files,
    })
}

/// Copies uploads into the media library, each file once.
struct Uploads<'a> {
    root: Option<&'a Path>,
    media: &'a DirectoryMedia,
    /// Path under uploads → its URL here (None: not copyable, keep the original URL).
    copied: HashMap<String, Option<String>>,
    files: u64,
}

impl Uploads<'_> {
    async fn copy(&mut self, relative: &str) -> anyhow::Result<Option<String>> {
        let Some(root) = self.root else {
            return Ok(None);
        };
        if let Some(done) = self.copied.get(relative) {
            return Ok(done.clone());
        }
        let path: PathBuf = relative
            .split('/')
            .filter(|part| !part.is_empty() && *part != "." && *part != "..")
            .fold(root.to_path_buf(), |path, part| path.join(part));
        let result = match tokio::fs::read(&path).await {
            Ok(bytes) => match clean_upload(&bytes) {
                Ok(upload) => {
                    let stored = self
                        .media
                        .put_upload(&upload)
                        .await
                        .with_context(|| format!("cannot store {}", path.display()))?;
                    self.files += 1;
                    Some(stored.path)
                }
                // Not a PNG or JPEG (a PDF, a GIF): the media library does not keep it.
                Err(_) => None,
            },
            Err(_) => None,
        };
        self.copied.insert(relative.to_owned(), result.clone());
        Ok(result)
    }

    /// The content with every copied upload's URL pointing here.
    async fn rewrite(&mut self, text: &str) -> anyhow::Result<String> {
        if self.root.is_none() {
            return Ok(text.to_owned());
        }
        let mut replacements = Vec::new();
        for (url, relative) in upload_references(text) {
            if let Some(local) = self.copy(&relative).await? {
                replacements.push((url, local));
            }
        }
        Ok(replace_urls(text, &replacements))
    }
}

/// The path of an item's permalink, when it is a pretty one (`/2019/04/hello/`).
/// Every value of a post meta key that may repeat (WordPress adds one `_wp_old_slug` per rename).
fn meta_values(meta: &[(String, String)], key: &str) -> Vec<String> {
    meta.iter()
        .filter(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

fn old_path(link: &str) -> Option<String> {
    let after_scheme = link.split_once("://").map_or(link, |(_, rest)| rest);
    let path = &after_scheme[after_scheme.find('/')?..];
    (!path.contains('?') && path.len() > 1).then(|| path.to_owned())
}

pub async fn import(store: &Store, job: WordPressImport<'_>) -> anyhow::Result<ImportSummary> {
    let mut survey = survey(job.file)?;
    let mut uploads = Uploads {
        root: job.uploads,
        media: &job.media,
        copied: HashMap::new(),
        files: 0,
    };
    let mut summary = ImportSummary {
        site: survey.site.clone(),
        ..Default::default()
    };
    if let Some(root) = job.uploads
        && !root.is_dir()
    {
        anyhow::bail!("--uploads {}: not a directory", root.display());
    }
    let attachment_ids: Vec<i64> = survey.attachments.iter().map(|(id, _)| id).collect();
    for id in attachment_ids {
        let local = match survey.attached_files.get(&id).cloned() {
            Some(relative) => uploads.copy(&relative).await?,
            None => None,
        };
        match local {
            Some(url) => {
                summary.attachments_copied += 1;
                survey.attachments.set_url(id, url);
            }
            None => summary.attachments_kept += 1,
        }
    }

    let (mut wxr, size) = reader(job.file)?;
    let bar = progress_bar(size, "importing");
    let mut import = store
        .begin_wordpress_import(&survey.site, &survey.shared_site)
        .await
        .context("starting the import")?;
    let mut seen = 0u64;
    while let Some(record) = wxr.next_record().map_err(|e| located(job.file, e))? {
        seen += 1;
        if seen.is_multiple_of(16) {
            bar.set_position(wxr.bytes_read());
        }
        match record {
            WxrRecord::Site { .. } => {}
            WxrRecord::Author(author) => {
                import
                    .add_author(&ImportedAuthor {
                        wordpress_id: author.id,
                        login: author.login,
                        email: author.email,
                        display_name: author.display_name,
                    })
                    .await?;
            }
            WxrRecord::Category(term) => {
                import
                    .add_term(&imported_term(Taxonomy::Category, term))
                    .await?;
            }
            WxrRecord::Tag(term) => {
                import.add_term(&imported_term(Taxonomy::Tag, term)).await?;
            }
            WxrRecord::Item(item) => match item_fate(&item) {
                ItemFate::Import { kind, status } => {
                    let post =
                        imported_post(*item, kind, status, &survey, &mut uploads, &mut summary)
                            .await?;
                    import.add_post(post).await?;
                }
                ItemFate::Attachment => {}
                ItemFate::Skip(reason) => *summary.skipped.entry(reason).or_default() += 1,
            },
        }
    }
    bar.set_message("saving");
    summary.counts = import.finish().await.context("saving the import")?;
    bar.finish_and_clear();
    summary.files_copied = uploads.files;
    Ok(summary)
}

fn imported_term(taxonomy: Taxonomy, term: folio_domain::wordpress::WxrTerm) -> ImportedTerm {
    ImportedTerm {
        wordpress_id: term.id,
        taxonomy,
        slug: term.slug,
        name: term.name,
        description: term.description,
        parent: term.parent,
    }
}

async fn imported_post(
    item: WxrItem,
    kind: folio_domain::PostKind,
    status: folio_domain::PostStatus,
    survey: &Survey,
    uploads: &mut Uploads<'_>,
    summary: &mut ImportSummary,
) -> anyhow::Result<ImportedPost> {
    let source_key = item.source_key();
    let (title, title_html) = title_text_and_markup(&item.title_html);
    let content = uploads.rewrite(&item.content).await?;
    let source = post_source(&content, item.id, &survey.attachments);
    let featured_image = item
        .meta("_thumbnail_id")
        .and_then(|id| id.parse().ok())
        .and_then(|id| survey.attachments.url(id));
    let mut comments = Vec::with_capacity(item.comments.len());
    for comment in item.comments {
        match comment_fate(&comment) {
            Ok(status) => comments.push(ImportedComment {
                wordpress_id: comment.id,
                parent: comment.parent,
                author_name: comment.author,
                author_email: comment.author_email,
                author_url: comment.author_url,
                author_ip: comment.author_ip,
                wordpress_user_id: comment.user_id,
                created_at: comment.date,
                content: comment.content,
                status,
            }),
            Err(reason) => *summary.skipped.entry(reason).or_default() += 1,
        }
    }
    let excerpt_text = {
        let mut words = String::new();
        for piece in item.excerpt.split(['<', '>']).step_by(2) {
            words.push_str(piece);
            words.push(' ');
        }
        decode_html_entities(&words.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    Ok(ImportedPost {
        source_key,
        wordpress_id: item.id,
        kind,
        status,
        title,
        title_html,
        slug: item.slug,
        source,
        excerpt: excerpt_text,
        published_at: item.date,
        modified_at: item.modified,
        author_login: item.creator,
        comments_open: item.comment_status != "closed",
        featured_image,
        terms: item
            .terms
            .into_iter()
            .filter(|(taxonomy, slug, _)| {
                matches!(taxonomy.as_str(), "category" | "post_tag") && !slug.is_empty()
            })
            .collect(),
        old_path: old_path(&item.link),
        old_slugs: meta_values(&item.meta, "_wp_old_slug"),
        old_addresses: meta_values(&item.meta, "_folio_old_address"),
        comments,
        password: item.password,
        parent: item.parent,
        sticky: item.sticky,
    })
}

#[cfg(test)]
mod tests {
    use super::old_path;

    #[test]
    fn only_pretty_links_are_old_paths() {
        assert_eq!(
            old_path("https://old.example.com/2019/04/01/hello/"),
            Some("/2019/04/01/hello/".to_owned())
        );
        assert_eq!(old_path("https://old.example.com/?p=12"), None);
        assert_eq!(old_path("https://old.example.com"), None);
    }
}

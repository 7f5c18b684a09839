//! Moving a WordPress site in: its export file (WXR) read as a stream, and its markup made
//! into clean HTML. The database side is `folio_storage::wordpress_import`.

pub mod markup;
pub mod wxr;

use crate::{CommentStatus, PostKind, PostStatus};

pub use markup::{AttachmentIndex, AttachmentLookup};
pub use wxr::{
    WxrAuthor, WxrComment, WxrError, WxrItem, WxrProblem, WxrReader, WxrRecord, WxrTerm,
};

/// What becomes of a WordPress item in Folio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFate {
    Import { kind: PostKind, status: PostStatus },
    Attachment,
    Skip(SkipReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    Revision,
    AutoDraft,
    Trashed,
    /// Menus, custom CSS, block templates, a plugin's own post types.
    OtherType,
    Pingback,
    SpamOrTrashedComment,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Revision => "revisions",
            SkipReason::AutoDraft => "auto-drafts",
            SkipReason::Trashed => "posts in the trash",
            SkipReason::OtherType => "items of other types (menus, templates, plugin data)",
            SkipReason::Pingback => "pingbacks and trackbacks",
            SkipReason::SpamOrTrashedComment => "comments in the trash",
        }
    }
}

/// WordPress's post type and status, in Folio's terms. A private post stays out of public
/// view as a draft: Folio has no per-reader visibility.
pub fn item_fate(item: &WxrItem) -> ItemFate {
    let kind = match item.post_type.as_str() {
        "post" => PostKind::Post,
        "page" => PostKind::Page,
        "attachment" => return ItemFate::Attachment,
        "revision" => return ItemFate::Skip(SkipReason::Revision),
        _ => return ItemFate::Skip(SkipReason::OtherType),
    };
    let status = match item.status.as_str() {
        // Folio's scheduled post is a published one whose time has not come.
        "publish" | "future" => PostStatus::Published,
        "draft" | "pending" | "private" => PostStatus::Draft,
        "auto-draft" => return ItemFate::Skip(SkipReason::AutoDraft),
        "trash" => return ItemFate::Skip(SkipReason::Trashed),
        _ => PostStatus::Draft,
    };
    ItemFate::Import { kind, status }
}

/// A comment's fate: its status, or why it stays behind. Pingbacks and trackbacks are
/// notices from other blogs, not conversation; Folio has no place for them.
pub fn comment_fate(comment: &WxrComment) -> Result<CommentStatus, SkipReason> {
    if matches!(comment.kind.as_str(), "pingback" | "trackback") {
        return Err(SkipReason::Pingback);
    }
    match comment.approved.as_str() {
        "1" | "approve" | "approved" => Ok(CommentStatus::Approved),
        "spam" => Ok(CommentStatus::Spam),
        "trash" | "post-trashed" => Err(SkipReason::SpamOrTrashedComment),
        _ => Ok(CommentStatus::Pending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_folio_and_private_stays_hidden() {
        let item = |post_type: &str, status: &str| WxrItem {
            post_type: post_type.into(),
            status: status.into(),
            ..Default::default()
        };
        assert_eq!(
            item_fate(&item("post", "private")),
            ItemFate::Import {
                kind: PostKind::Post,
                status: PostStatus::Draft
            }
        );
        assert_eq!(
            item_fate(&item("page", "future")),
            ItemFate::Import {
                kind: PostKind::Page,
                status: PostStatus::Published
            }
        );
        assert_eq!(
            item_fate(&item("post", "auto-draft")),
            ItemFate::Skip(SkipReason::AutoDraft)
        );
        assert_eq!(
            item_fate(&item("nav_menu_item", "publish")),
            ItemFate::Skip(SkipReason::OtherType)
        );
        assert_eq!(
            item_fate(&item("attachment", "inherit")),
            ItemFate::Attachment
        );
    }

    #[test]
    fn comment_statuses_map_and_pingbacks_stay_behind() {
        let comment = |approved: &str, kind: &str| WxrComment {
            approved: approved.into(),
            kind: kind.into(),
            ..Default::default()
        };
        assert_eq!(comment_fate(&comment("1", "")), Ok(CommentStatus::Approved));
        assert_eq!(
            comment_fate(&comment("0", "comment")),
            Ok(CommentStatus::Pending)
        );
        assert_eq!(comment_fate(&comment("spam", "")), Ok(CommentStatus::Spam));
        assert_eq!(
            comment_fate(&comment("1", "pingback")),
            Err(SkipReason::Pingback)
        );
    }
}

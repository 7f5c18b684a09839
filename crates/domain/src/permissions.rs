//! Who may do what in the admin. Every admin handler asks one of these before it reads or
//! changes anything, so the rules live in one place and are tested here.

use crate::{PostKind, Role, User};

/// Authors, editors and admins have an admin; readers do not.
pub fn may_enter_admin(user: &User) -> bool {
    user.role >= Role::Author
}

/// Authors write posts; pages belong to the whole site, so only editors and admins make them.
pub fn may_create(user: &User, kind: PostKind) -> bool {
    match kind {
        PostKind::Post => user.role >= Role::Author,
        PostKind::Page => user.role >= Role::Editor,
    }
}

/// Editors and admins edit every post and page; an author edits their own posts only.
pub fn may_edit_post(user: &User, kind: PostKind, author_id: i64) -> bool {
    match user.role {
        Role::Admin | Role::Editor => true,
        Role::Author => kind == PostKind::Post && author_id == user.id,
        Role::Reader => false,
    }
}

/// Editors and admins see every post in the admin's lists; an author sees their own.
pub fn sees_all_posts(user: &User) -> bool {
    user.role >= Role::Editor
}

/// Editors and admins moderate every comment; an author the comments on their own posts.
pub fn may_moderate_comment(user: &User, post_author_id: i64) -> bool {
    match user.role {
        Role::Admin | Role::Editor => true,
        Role::Author => post_author_id == user.id,
        Role::Reader => false,
    }
}

/// Banning is site-wide moderation: editors and admins.
pub fn may_ban(user: &User) -> bool {
    user.role >= Role::Editor
}

/// Categories and tags are the whole site's: editors and admins manage them.
pub fn may_manage_terms(user: &User) -> bool {
    user.role >= Role::Editor
}

/// Users' roles and the audit log: admins only.
pub fn may_manage_users(user: &User) -> bool {
    user.role == Role::Admin
}

/// Nobody bans or demotes themselves, so that the last admin cannot lock the site out.
pub fn may_change_user(actor: &User, target_id: i64) -> bool {
    actor.id != target_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Slug;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            slug: Slug::parse("someone").unwrap(),
            display_name: "Someone".into(),
            email: None,
            avatar_url: None,
            bio: String::new(),
            role,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            email_verified: false,
            notify_replies: true,
            ban: None,
        }
    }

    #[test]
    fn readers_have_no_admin() {
        let reader = user(1, Role::Reader);
        assert!(!may_enter_admin(&reader));
        assert!(!may_create(&reader, PostKind::Post));
        assert!(!may_edit_post(&reader, PostKind::Post, 1));
        assert!(!may_moderate_comment(&reader, 1));
        assert!(!may_ban(&reader));
    }

    #[test]
    fn authors_edit_and_moderate_only_their_own_posts() {
        let author = user(2, Role::Author);
        assert!(may_enter_admin(&author));
        assert!(may_create(&author, PostKind::Post));
        assert!(!may_create(&author, PostKind::Page));
        assert!(may_edit_post(&author, PostKind::Post, 2));
        assert!(!may_edit_post(&author, PostKind::Post, 3));
        assert!(!may_edit_post(&author, PostKind::Page, 2));
        assert!(may_moderate_comment(&author, 2));
        assert!(!may_moderate_comment(&author, 3));
        assert!(!may_ban(&author));
        assert!(!sees_all_posts(&author));
        assert!(!may_manage_terms(&author));
    }

    #[test]
    fn editors_handle_all_content_but_not_users() {
        let editor = user(3, Role::Editor);
        assert!(may_create(&editor, PostKind::Page));
        assert!(may_edit_post(&editor, PostKind::Post, 9));
        assert!(may_edit_post(&editor, PostKind::Page, 9));
        assert!(may_moderate_comment(&editor, 9));
        assert!(may_ban(&editor));
        assert!(may_manage_terms(&editor));
        assert!(!may_manage_users(&editor));
    }

    #[test]
    fn admins_do_everything_except_to_themselves() {
        let admin = user(4, Role::Admin);
        assert!(may_manage_users(&admin));
        assert!(may_edit_post(&admin, PostKind::Page, 9));
        assert!(may_change_user(&admin, 5));
        assert!(!may_change_user(&admin, 4));
    }
}

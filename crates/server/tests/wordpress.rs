//! Moving a WordPress blog in: `folio import wordpress` on a realistic export, then the site
//! read over HTTP as its old readers would, at its old addresses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Idp, Reader, TestApp, location};
use folio_testkit::OidcServer;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn export() -> PathBuf {
    fixture("wordpress-export.xml")
}

/// Runs the import as `folio import wordpress` does, against the app's database and media
/// folder: the summary it prints, or its one-line error.
async fn folio_import(
    app: &TestApp,
    file: &Path,
    uploads: Option<&Path>,
) -> Result<String, String> {
    folio_server::wordpress::import(
        &app.store,
        folio_server::wordpress::WordPressImport {
            file,
            uploads,
            media: folio_web::DirectoryMedia::new(app.settings.media.directory.clone().into()),
        },
    )
    .await
    .map(|summary| summary.to_string())
    .map_err(|error| format!("folio: {error:#}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn imported_site() -> (TestApp, tempfile::TempDir) {
    let media = tempfile::tempdir().unwrap();
    let media_dir = media.path().display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = media_dir).await;
    folio_import(&app, &export(), Some(&fixture("wordpress-uploads")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.settle().await;
    (app, media)
}

/// Row counts of every table an import writes, and a checksum of what pages show.
async fn database_state(app: &TestApp) -> Vec<i64> {
    let mut state = Vec::new();
    for table in [
        "posts",
        "comments",
        "users",
        "terms",
        "post_terms",
        "slug_redirects",
        "import_sources",
    ] {
        state.push(
            app.count(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .await,
        );
    }
    state.push(
        app.count(
            "SELECT CAST(COALESCE(SUM(LENGTH(html) + LENGTH(title) + LENGTH(slug) + LENGTH(status)), 0) AS BIGINT) AS n FROM posts",
        )
        .await,
    );
    state.push(
        app.count("SELECT CAST(COALESCE(SUM(LENGTH(html) + COALESCE(parent_id, 0)), 0) AS BIGINT) AS n FROM comments")
            .await,
    );
    state
}

const POST: &str = "/2023/05/14/staking-tomatoes/";

#[tokio::test]
async fn an_imported_blog_answers_at_its_old_addresses_with_its_threads() {
    let (app, _media) = imported_site().await;

    // The post, at WordPress's own permalink, with its markup made clean.
    let page = app.page(POST).await;
    assert!(
        page.contains("Staking tomatoes &#38; other heirlooms")
            || page.contains("Staking tomatoes &amp; other heirlooms"),
        "{page}"
    );
    assert!(
        !page.contains("&#38;amp;") && !page.contains("&amp;amp;"),
        "the title is escaped once"
    );
    assert!(
        page.contains("<strong>heirloom</strong> tomatoes"),
        "{page}"
    );
    assert!(
        page.contains("<h2>Why stake them</h2>") || page.contains("Why stake them</h2>"),
        "{page}"
    );
    assert!(
        !page.contains("wp:paragraph"),
        "block comments are gone: {page}"
    );
    assert!(!page.contains("[caption"), "{page}");
    assert!(
        page.contains(
            "<figcaption class=\"wp-caption-text\">The first ripe one, May 2023</figcaption>"
        ),
        "{page}"
    );
    assert!(page.contains("wp-block-gallery"), "{page}");
    assert!(page.contains("<blockquote"), "{page}");
    // Images found in the uploads folder are served from here; what is not there keeps its URL.
    assert!(
        !page.contains("garden.example.com/wp-content/uploads/2023/05/tomato"),
        "{page}"
    );
    assert!(
        page.contains("https://garden.example.com/wp-content/uploads/2023/05/cold-frame.jpg"),
        "{page}"
    );
    assert!(
        page.contains("https://garden.example.com/wp-content/uploads/2023/05/planting-guide.pdf"),
        "{page}"
    );
    let media_path = page
        .split("src=\"/media/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|name| format!("/media/{name}"))
        .expect("an image served from the media library");
    let image = app.get(&media_path).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");

    // The thread: three levels deep, held and spam comments and the pingback not shown.
    let first = page
        .find("Which variety is the striped one?")
        .expect("top comment");
    let reply = page.find("Green Zebra").expect("the author's reply");
    let third = page
        .find("ordering some today")
        .expect("the reply to the reply");
    assert!(
        first < reply && reply < third,
        "replies follow their parents"
    );
    let li_of = |needle: &str| {
        let at = page.find(needle).unwrap();
        let li = page[..at].rfind("<li id=\"comment-").unwrap();
        page[li..li + 120].to_owned()
    };
    assert!(
        li_of("Which variety").contains("depth-1"),
        "{}",
        li_of("Which variety")
    );
    assert!(
        li_of("Green Zebra").contains("depth-2"),
        "{}",
        li_of("Green Zebra")
    );
    assert!(
        li_of("ordering some today").contains("depth-3"),
        "{}",
        li_of("ordering some today")
    );
    assert!(page.contains("<ol class=\"children\">"), "{page}");
    assert!(
        !page.contains("Held for moderation"),
        "a held comment is not public"
    );
    assert!(!page.contains("pills"), "spam is not public");
    assert!(
        !page.contains("Links for May"),
        "pingbacks are not imported"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    // Commenters' links are marked as theirs, as on native comments.
    let walter = &page[page.find("walter.example.org/notes").unwrap() - 200..];
    assert!(walter[..400].contains("nofollow ugc"), "{}", &walter[..400]);
    assert!(page.contains("Walter Wanderer"), "{page}");
    assert!(page.contains("Rosa Rugosa"), "{page}");

    // Pages; the child page keeps its nested WordPress address, which answers directly.
    assert!(
        app.page("/about/")
            .await
            .contains("We grow vegetables and write about them.")
    );
    assert!(app.page("/about/contact/").await.contains("allotment gate"));
    let bare = app.get("/contact/").await;
    assert_eq!(bare.status(), 301);
    assert_eq!(location(&bare), "/about/contact/");

    // WordPress's plain links and a changed permalink answer with 301.
    for (old, new) in [
        ("/?p=10", POST),
        ("/?page_id=14", "/about/"),
        ("/?page_id=15", "/about/contact/"),
        ("/?p=16", "/2022/11/02/classic-post/"),
        ("/archives/16", "/2022/11/02/classic-post/"),
        ("/?cat=3", "/category/tomatoes/"),
        ("/?tag=heirloom", "/tag/heirloom/"),
    ] {
        let response = app.get(old).await;
        assert_eq!(response.status(), 301, "GET {old}");
        assert_eq!(location(&response), new, "GET {old}");
    }

    // Archives: the category tree (a post in a child category shows under its parent too),
    // tags, and the author.
    assert!(
        app.page("/category/tomatoes/")
            .await
            .contains("Staking tomatoes")
    );
    assert!(
        app.page("/category/vegetables/")
            .await
            .contains("Staking tomatoes")
    );
    assert!(
        app.page("/category/vegetables/tomatoes/")
            .await
            .contains("Staking tomatoes")
    );
    assert!(
        app.page("/tag/heirloom/")
            .await
            .contains("Staking tomatoes")
    );
    assert!(
        app.page("/author/gardener/")
            .await
            .contains("Staking tomatoes")
    );

    // The classic post: paragraphs made, embeds linked, a player, plugin shortcodes gone.
    let classic = app.page("/2022/11/02/classic-post/").await;
    assert!(
        classic.contains("Written in the classic editor.<br>\nA second line")
            || classic.contains("Written in the classic editor.<br />\nA second line"),
        "{classic}"
    );
    assert!(
        classic.contains("href=\"https://www.youtube.com/watch?v=dQw4w9WgXcQ\""),
        "{classic}"
    );
    assert!(
        classic.contains("href=\"https://vimeo.com/76979871\""),
        "{classic}"
    );
    assert!(classic.contains("<audio controls"), "{classic}");
    assert!(!classic.contains("contact-form-7"), "{classic}");
    assert!(classic.contains("[gallery] written literally"), "{classic}");

    // Search finds imported words (the source is HTML, not Markdown).
    let found = app.page("/search?q=heirloom").await;
    assert!(found.contains("Staking tomatoes"), "{found}");

    // Drafts, private and scheduled posts are not public, at either address.
    for hidden in [
        "/?p=11",
        "/?p=12",
        "/?p=13",
        "/2023/06/02/plot-rent/",
        "/?p=19",
    ] {
        assert_eq!(app.get(hidden).await.status(), 404, "GET {hidden}");
    }
    let front = app.page("/").await;
    assert!(
        !front.contains("Plot rent")
            && !front.contains("2031 beds")
            && !front.contains("Seed catalogue")
    );
    assert!(front.contains("Staking tomatoes"), "{front}");
    // The featured image is the copied one.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM posts WHERE featured_image LIKE '/media/%'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM posts WHERE kind = 'post'")
            .await,
        5
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM posts WHERE kind = 'page'")
            .await,
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM comments").await, 6);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE status = 'pending'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM comments WHERE status = 'spam'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE role = 'author'")
            .await,
        2,
        "one author per WordPress author"
    );
}

#[tokio::test]
async fn the_summary_counts_what_came_in_and_what_stayed_behind() {
    let media = tempfile::tempdir().unwrap();
    let media_dir = media.path().display().to_string();
    let app = TestApp::spawn_with(|s| s.media.directory = media_dir).await;
    let output = folio_import(&app, &export(), Some(&fixture("wordpress-uploads")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let summary = output;
    for line in [
        "Imported from https://garden.example.com",
        "5 posts, 2 pages, 6 comments",
        "2 authors",
        "1 attachments copied into the media library (2 files in all), 2 kept at their original URLs",
        "1 revisions",
    ] {
        assert!(summary.contains(line), "{line:?} missing from:\n{summary}");
    }
    assert!(summary.contains("1 pingbacks and trackbacks"), "{summary}");
    assert!(summary.contains("1 posts in the trash"), "{summary}");

    // Without --uploads, every image keeps its original address.
    let bare = TestApp::spawn().await;
    folio_import(&bare, &export(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    bare.settle().await;
    let page = bare.page(POST).await;
    assert!(
        page.contains("https://garden.example.com/wp-content/uploads/2023/05/tomato-300x225.png"),
        "{page}"
    );
    assert!(!page.contains("/media/"), "{page}");
}

#[tokio::test]
async fn importing_the_same_export_again_changes_nothing_and_a_later_one_adds_what_is_new() {
    let (app, _media) = imported_site().await;
    let before = database_state(&app).await;
    let again = folio_import(&app, &export(), Some(&fixture("wordpress-uploads")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.contains("0 posts, 0 pages, 0 comments"), "{again}");
    assert_eq!(database_state(&app).await, before);

    // A later export of the same site: one new reply and one new post.
    let later = std::fs::read_to_string(export()).unwrap().replace(
        "\t</item>\n\t<item>\n\t\t<title><![CDATA[Seed catalogue wish list]]></title>",
        "\t\t<wp:comment><wp:comment_id>107</wp:comment_id><wp:comment_author><![CDATA[Walter Wanderer]]></wp:comment_author><wp:comment_author_email></wp:comment_author_email><wp:comment_date_gmt>2023-06-01 08:00:00</wp:comment_date_gmt><wp:comment_content><![CDATA[Mine are late this year.]]></wp:comment_content><wp:comment_approved>1</wp:comment_approved><wp:comment_type>comment</wp:comment_type><wp:comment_parent>102</wp:comment_parent><wp:comment_user_id>0</wp:comment_user_id></wp:comment>\n\t</item>\n\t<item>\n\t\t<title><![CDATA[First frost]]></title><link>https://garden.example.com/2023/10/20/first-frost/</link><dc:creator>sam</dc:creator><content:encoded><![CDATA[Cold already.]]></content:encoded><wp:post_id>30</wp:post_id><wp:post_date_gmt>2023-10-20 07:00:00</wp:post_date_gmt><wp:post_name>first-frost</wp:post_name><wp:status>publish</wp:status><wp:post_type>post</wp:post_type>\n\t</item>\n\t<item>\n\t\t<title><![CDATA[Seed catalogue wish list]]></title>",
    );
    assert_ne!(later, std::fs::read_to_string(export()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let later_file = dir.path().join("later.xml");
    std::fs::write(&later_file, later).unwrap();
    let output = folio_import(&app, &later_file, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.contains("1 posts, 0 pages, 1 comments"), "{output}");
    app.settle().await;
    assert!(
        app.page("/2023/10/20/first-frost/")
            .await
            .contains("Cold already.")
    );
    let page = app.page(POST).await;
    let at = page
        .find("Mine are late this year.")
        .expect("the new reply");
    let li = page[..at].rfind("<li id=\"comment-").unwrap();
    assert!(
        page[li..li + 120].contains("depth-4"),
        "{}",
        &page[li..li + 120]
    );
}

#[tokio::test]
async fn an_imported_post_saved_unchanged_in_the_editor_reads_the_same() {
    let (app, _media) = imported_site().await;
    let content_of = |page: &str| {
        let start = page
            .find("<div class=\"entry-content")
            .expect("entry content");
        let end = page[start..]
            .find("</article>")
            .map_or(page.len(), |e| start + e);
        page[start..end].to_owned()
    };
    let before = content_of(&app.page(POST).await);
    let id = app
        .count("SELECT id AS n FROM posts WHERE slug = 'staking-tomatoes'")
        .await;
    let admin = app
        .store
        .create_user(folio_storage::NewUser {
            display_name: "Admin".into(),
            slug: None,
            email: Some("admin@example.org".into()),
            avatar_url: None,
            bio: String::new(),
            role: folio_domain::Role::Admin,
        })
        .await
        .unwrap();
    let (cookie, csrf) = folio_web::open_session_for(&app.store, admin.id)
        .await
        .unwrap();
    let cookie = format!("{}={cookie}", folio_web::SESSION_COOKIE);
    let editor = app
        .client
        .get(app.url(&format!("/admin/posts/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(editor.status(), 200);
    let form = app.store.editable_post(id).await.unwrap().unwrap();
    let published = form.published_at.unwrap();
    let publish_at = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        published.year(),
        u8::from(published.month()),
        published.day(),
        published.hour(),
        published.minute(),
        published.second()
    );
    let categories = form.categories.join(", ");
    let tags = form.tags.join(", ");
    let featured = form.featured_image.clone().unwrap_or_default();
    let saved = app
        .client
        .post(app.url(&format!("/admin/posts/{id}")))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("title", form.title.as_str()),
            ("slug", form.slug.as_str()),
            ("source", form.source.as_str()),
            ("excerpt", form.excerpt.as_str()),
            ("categories", categories.as_str()),
            ("tags", tags.as_str()),
            ("featured_image", featured.as_str()),
            ("comments_open", "1"),
            ("status", "published"),
            ("publish_at", publish_at.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    app.settle().await;
    let after = content_of(&app.page(POST).await);
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_verified_sign_in_with_a_commenters_address_takes_over_their_comments() {
    let oidc = OidcServer::start().await;
    oidc.put_user("rosa", "rosa@example.net", true, "Rosa R.")
        .await;
    oidc.put_user("mallory", "quentin@example.org", false, "Mallory")
        .await;
    let config = oidc.provider_config();
    let media = tempfile::tempdir().unwrap();
    let media_dir = media.path().display().to_string();
    let app = TestApp::spawn_with(|s| {
        s.auth.providers.insert("corp".into(), config);
        s.media.directory = media_dir;
    })
    .await;
    folio_import(&app, &export(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.settle().await;
    let guest = app
        .count("SELECT id AS n FROM users WHERE email = 'rosa@example.net'")
        .await;
    let users_before = app.count("SELECT COUNT(*) AS n FROM users").await;

    let rosa = Reader::new(&app);
    rosa.sign_in(Idp::Oidc(&oidc), "corp", "rosa", "/").await;
    let account = rosa.page("/account").await;
    assert!(account.contains("Rosa R."), "{account}");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users").await,
        users_before,
        "the sign-in took the guest over instead of making a user"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM identities WHERE user_id = {guest}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM comments WHERE author_id = {guest}"
        ))
        .await,
        2,
        "both of her imported comments are hers"
    );

    // An address the provider has not verified never claims anyone.
    let quentin = app
        .count("SELECT id AS n FROM users WHERE email = 'quentin@example.org'")
        .await;
    let mallory = Reader::new(&app);
    mallory
        .sign_in(Idp::Oidc(&oidc), "corp", "mallory", "/")
        .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM identities WHERE user_id = {quentin}"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users").await,
        users_before + 1
    );
}

#[tokio::test]
async fn broken_exports_are_refused_with_where_and_why_and_change_nothing() {
    let app = TestApp::spawn().await;
    // Something already there, to see that it stays exactly as it was.
    folio_import(&app, &export(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = database_state(&app).await;
    let original = std::fs::read_to_string(export()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let new_post = "<item><title>Brand new</title><dc:creator>sam</dc:creator><content:encoded>New.</content:encoded><wp:post_id>40</wp:post_id><wp:post_date_gmt>2023-01-01 00:00:00</wp:post_date_gmt><wp:post_name>brand-new</wp:post_name><wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>";
    let with_new = original.replace("<generator>", &format!("{new_post}\n\t<generator>"));
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "truncated",
            with_new[..with_new.len() * 2 / 3].to_owned(),
            vec!["truncated", "line "],
        ),
        (
            "latin1",
            with_new.replacen("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\"", 1),
            vec!["ISO-8859-1", "line 1,", "UTF-8"],
        ),
        (
            "malformed",
            with_new.replacen("</wp:post_name>", "</wp:post_nam>", 3),
            vec!["malformed", "line "],
        ),
    ];
    for (name, content, expected) in cases {
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, content).unwrap();
        let error = folio_import(&app, &file, None)
            .await
            .expect_err(&format!("{name} was accepted"));
        assert_eq!(error.trim().lines().count(), 1, "{name}: one line: {error}");
        assert!(
            error.contains(&file.display().to_string()),
            "{name}: {error}"
        );
        for part in expected {
            assert!(error.contains(part), "{name}: {part:?} missing: {error}");
        }
        assert!(!error.contains("panicked"), "{error}");
        assert_eq!(
            database_state(&app).await,
            before,
            "{name} changed the database"
        );
    }

    // The malformed one names the exact line of the broken tag.
    let malformed = std::fs::read_to_string(dir.path().join("malformed.xml")).unwrap();
    let broken_line = malformed
        .lines()
        .position(|l| l.contains("</wp:post_nam>"))
        .unwrap()
        + 1;
    let error = folio_import(&app, &dir.path().join("malformed.xml"), None)
        .await
        .unwrap_err();
    assert!(
        error.contains(&format!("line {broken_line},")),
        "expected line {broken_line}: {error}"
    );

    // A 100 MB text node is refused with a clear error, without reading it into memory.
    let huge = dir.path().join("huge.xml");
    {
        use std::io::Write;
        let (head, tail) = with_new.split_at(with_new.find("New.</content:encoded>").unwrap());
        let mut out = std::io::BufWriter::new(std::fs::File::create(&huge).unwrap());
        out.write_all(head.as_bytes()).unwrap();
        let chunk = "lorem ipsum ".repeat(8192);
        let mut written = 0;
        while written < 100 * 1024 * 1024 {
            out.write_all(chunk.as_bytes()).unwrap();
            written += chunk.len();
        }
        out.write_all(tail.as_bytes()).unwrap();
    }
    let error = folio_import(&app, &huge, None).await.unwrap_err();
    assert!(error.contains("larger than 64 MB"), "{error}");
    assert!(error.contains("line "), "{error}");
    assert_eq!(database_state(&app).await, before);

    // Unknown elements are skipped: the file imports, with its one new post.
    let unknown = with_new.replace(
        "<generator>",
        "<wp:plugin_setting><deep><deeper a=\"1\">x</deeper></deep></wp:plugin_setting>\n\t<generator>",
    );
    let file = dir.path().join("unknown.xml");
    std::fs::write(&file, unknown).unwrap();
    let output = folio_import(&app, &file, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(output.contains("1 posts, 0 pages, 0 comments"), "{output}");

    // Not a WordPress export at all.
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, "<?xml version=\"1.0\"?><html><body>hi</body></html>").unwrap();
    let error = folio_import(&app, &file, None).await.unwrap_err();
    assert!(error.contains("not a WordPress export"), "{error}");

    // The binary: a bare FILE says which command to use, with exit status 1.
    let output = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["import"])
        .arg(export())
        .env("FOLIO__DATABASE__URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("folio import wordpress"),
        "{}",
        text(&output.stderr)
    );
}

/// What a reader would compare between two copies of a site: every post and page (kind,
/// address, title, status, date) and, under each, its visible thread as (author, date, the
/// parent's author and date, text) in order.
async fn site_outline(app: &TestApp) -> Vec<String> {
    let mut posts = app.store.all_posts().await.unwrap();
    posts.sort_by(|a, b| a.path.cmp(&b.path));
    let mut outline = Vec::new();
    for post in posts {
        outline.push(format!(
            "{:?} {} {:?} {:?} {:?}",
            post.kind, post.path, post.title, post.status, post.published_at
        ));
        let thread = app.store.thread_for(post.id, None).await.unwrap();
        let by_id: std::collections::HashMap<i64, &folio_domain::Comment> =
            thread.iter().map(|c| (c.id, c)).collect();
        for comment in &thread {
            let parent = comment
                .parent_id
                .and_then(|id| by_id.get(&id))
                .map(|p| (p.author_name.clone(), p.created_at));
            outline.push(format!(
                "  {} {} <- {:?}: {}",
                comment.author_name,
                comment.created_at,
                parent,
                comment.html.trim()
            ));
        }
    }
    outline
}

#[tokio::test]
async fn folios_own_wordpress_export_comes_back_as_the_same_site() {
    let (first, _media) = imported_site().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaving.xml");
    {
        let out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        folio_server::wxr::write_wxr(&first.store, &first.settings, out)
            .await
            .unwrap();
    }
    let second = TestApp::spawn().await;
    let summary = folio_import(&second, &file, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    second.settle().await;

    let (before, after) = (site_outline(&first).await, site_outline(&second).await);
    assert!(
        before.len() > 10,
        "the fixture has posts with threads: {before:#?}"
    );
    for (left, right) in before.iter().zip(&after) {
        assert_eq!(left, right, "{summary}");
    }
    assert_eq!(before.len(), after.len(), "{summary}");
    // Held and spam comments travel too, with their status.
    for status in ["held", "spam"] {
        let query = format!("SELECT COUNT(*) AS n FROM comments WHERE status = '{status}'");
        assert_eq!(
            first.count(&query).await,
            second.count(&query).await,
            "{status}"
        );
    }
    // A reader finds the post where it was, with its thread. Its images are still served
    // by the old site: the export names them by their absolute addresses there, which is how
    // WordPress's importer finds the files to fetch.
    let (old_page, new_page) = (first.page(POST).await, second.page(POST).await);
    let image = format!("{}/media/", first.address);
    assert!(
        new_page.contains(&format!("<img src=\"{image}")),
        "{new_page}"
    );
    let served = first
        .get(&format!(
            "/media/{}",
            new_page
                .split(&image)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        ))
        .await;
    assert_eq!(served.status(), 200);
    let without_addresses = |page: &str| {
        page.replace(&first.address, "")
            .replace(&second.address, "")
    };
    assert_eq!(without_addresses(&new_page), without_addresses(&old_page));
}

/// Each post's and page's slug, password, sticky flag and parent page's slug.
async fn visibility_outline(app: &TestApp) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT p.kind, p.slug, p.password, p.sticky, q.slug AS parent \
             FROM posts p LEFT JOIN posts q ON q.id = p.parent_id ORDER BY p.kind, p.slug",
        ))
        .await
        .unwrap();
    let outline = rows
        .iter()
        .map(|row| {
            format!(
                "{} {} password={:?} sticky={} parent={:?}",
                row.try_get::<String>("", "kind").unwrap(),
                row.try_get::<String>("", "slug").unwrap(),
                row.try_get::<Option<String>>("", "password").unwrap(),
                row.try_get::<bool>("", "sticky").unwrap(),
                row.try_get::<Option<String>>("", "parent").unwrap(),
            )
        })
        .collect();
    db.close().await.unwrap();
    outline
}

#[tokio::test]
async fn page_parents_passwords_and_sticky_posts_come_in_and_go_back_out() {
    let app = TestApp::spawn().await;
    let summary = folio_import(&app, &fixture("wordpress-pages-and-privacy.xml"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.settle().await;
    assert!(
        summary.contains("1 pages name a parent page that is not in the export"),
        "{summary}"
    );
    let outline = visibility_outline(&app).await;
    assert_eq!(
        outline,
        [
            "page about password=None sticky=false parent=None",
            "page coaches password=None sticky=false parent=Some(\"about\")",
            "page head-coach password=None sticky=false parent=Some(\"coaches\")",
            "page regatta-2019 password=None sticky=false parent=None",
            "post locker-codes password=Some(\"oars up\") sticky=false parent=None",
            "post spring-regatta password=None sticky=false parent=None",
            "post welcome-new-season password=None sticky=true parent=None",
        ],
        "{summary}"
    );

    // Child pages answer at their WordPress addresses, and the menu nests them.
    assert!(
        app.page("/about/coaches/head-coach/")
            .await
            .contains("Maggie has coached here")
    );
    let front = app.page("/").await;
    let about = front
        .find(">About the club</a>")
        .expect("about in the menu");
    let sub_menu = front[about..].find("<ul class=\"sub-menu\">").unwrap() + about;
    let coaches = front.find(">Coaches</a>").unwrap();
    assert!(sub_menu < coaches, "{front}");
    // The sticky post is on top though older; the protected one keeps its secret.
    let first_article = &front[front.find("<article").unwrap()..];
    let first_article = &first_article[..first_article.find("</article>").unwrap()];
    assert!(
        first_article.contains("Welcome to the new season"),
        "{front}"
    );
    assert!(first_article.contains(" sticky "), "{first_article}");
    assert!(!front.contains("4471"), "{front}");
    assert!(
        app.page("/2024/05/20/locker-codes/")
            .await
            .contains("name=\"post_password\"")
    );

    // Folio's own export carries all three, and imports back with nothing lost.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leaving.xml");
    {
        let out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        folio_server::wxr::write_wxr(&app.store, &app.settings, out)
            .await
            .unwrap();
    }
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("<wp:post_password><![CDATA[oars up]]></wp:post_password>"),
        "{written}"
    );
    assert!(written.contains("<wp:is_sticky>1</wp:is_sticky>"));
    assert!(
        written.contains("/about/coaches/head-coach/</link>"),
        "{written}"
    );
    let second = TestApp::spawn().await;
    let summary = folio_import(&second, &file, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!summary.contains("parent page that is not"), "{summary}");
    assert_eq!(visibility_outline(&second).await, outline, "{summary}");
}

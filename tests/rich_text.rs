//! Rich text both ways, end to end through the binary (issue 15, "Rich text both ways"):
//! an Asana description with formatting becomes Markdown in a file or an issue body and
//! goes back as the same `html_notes`; a one-word edit changes only that word in Asana's
//! rich text, inline images included (inline HTML, byte for byte); plain `notes` are never
//! written; a rich description the Markdown cannot
//! express exactly is never overwritten (an error for that task, its other fields still
//! flow); and a resync after each step writes nothing.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use std::path::PathBuf;

use gh::{GhWorld, IssueEdit, TaskEdit};

/// A rich description in Asana's normal form: heading, bold, italic, link, nested list,
/// a user mention and a code block.
const RICH: &str = "<body><h1>Release plan</h1>Make the build <strong>fast</strong> and \
    <em>small</em>, see <a href=\"https://example.com/spec\">the spec</a>.\n<ul><li>first\
    <ul><li>nested step</li></ul></li><li>second</li></ul>Ask \
    <a data-asana-gid=\"1200\" data-asana-type=\"user\"/> before merging.\n\
    <pre>cargo test\n  --workspace</pre></body>";

/// [`RICH`] as Markdown, as it appears in a file body or an issue body.
const RICH_MD: &str = "# Release plan\n\nMake the build **fast** and *small*, see \
    [the spec](https://example.com/spec).\n\n\n- first\n  - nested step\n- second\n\nAsk \
    <a data-asana-gid=\"1200\" data-asana-type=\"user\"></a> before merging.\n\n\n\
    ```\ncargo test\n  --workspace\n```";

/// A description with inline images as Asana sends them (attachments shown in the text),
/// one inside a line and one first in a paragraph, with formatting around them.
const IMAGE: &str = "<body>Crash on <strong>login</strong>: <img data-asana-gid=\"1201\" \
    data-src-width=\"1280\" data-src-height=\"720\" \
    data-thumbnail-url=\"https://asana-user-private.example/thumb?id=1201&amp;sig=a%2Bb\" \
    src=\"https://app.asana.com/app/asana/-/get_asset?asset_id=1201\" alt=\"trace.png\"/>\n\n\
    <img data-asana-gid=\"1202\" src=\"https://app.asana.com/x?id=1202\" alt=\"the &quot;second&quot; one\"/>\n\
    See the <em>trace</em> above.</body>";

/// [`IMAGE`] as Markdown: each image is the same inline HTML, byte for byte.
const IMAGE_MD: &str = "Crash on **login**: <img data-asana-gid=\"1201\" \
    data-src-width=\"1280\" data-src-height=\"720\" \
    data-thumbnail-url=\"https://asana-user-private.example/thumb?id=1201&amp;sig=a%2Bb\" \
    src=\"https://app.asana.com/app/asana/-/get_asset?asset_id=1201\" alt=\"trace.png\"/>\n\n\
    <img data-asana-gid=\"1202\" src=\"https://app.asana.com/x?id=1202\" alt=\"the &quot;second&quot; one\"/>\n\
    See the *trace* above.";

/// A description with an image Asana would not take back from the bridge (not one empty
/// `<img .../>` tag), which the Markdown therefore cannot carry back exactly.
const UNSENDABLE: &str = "<body>Crash: <img data-asana-gid=\"77\" alt=\"trace\"></img> on \
    <strong>login</strong></body>";

/// The Markdown folder of [`markdown_world`].
fn md_dir(w: &GhWorld) -> PathBuf {
    w.dir.path().join("roadmap")
}

/// The harness's Asana project linked to a Markdown folder `roadmap/` (no GitHub link).
fn markdown_world() -> GhWorld {
    let w = GhWorld::new("manual");
    let config = format!(
        "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n\
         [[link]]\nname = \"roadmap\"\nasana_project = \"{}\"\nconflict = \"manual\"\n\
         markdown = {{ dir = \"roadmap\" }}\n",
        w.project
    );
    std::fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");
    w
}

/// The file (name, text) whose front matter names `gid`.
#[track_caller]
fn file_of(w: &GhWorld, gid: &str) -> (String, String) {
    for entry in std::fs::read_dir(md_dir(w)).expect("roadmap dir") {
        let entry = entry.expect("entry");
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if text.contains(&format!("asana_gid: \"{gid}\"")) {
            return (entry.file_name().to_string_lossy().into_owned(), text);
        }
    }
    panic!("no file names {gid}");
}

/// The body of a task file (after the front matter).
fn body(text: &str) -> &str {
    let end = text[4..].find("\n---\n").expect("front matter") + 4 + 5;
    &text[end..]
}

fn write_file(w: &GhWorld, name: &str, text: &str) {
    std::fs::write(md_dir(w).join(name), text).expect("write file");
}

fn html_notes(w: &GhWorld, gid: &str) -> String {
    w.asana.task(gid).expect("task").html_notes
}

/// The bodies of the task writes Asana received since the last clear.
fn task_write_bodies(w: &GhWorld) -> Vec<serde_json::Value> {
    w.asana
        .requests()
        .into_iter()
        .filter(|r| (r.method == "PUT" || r.method == "POST") && r.path.starts_with("/tasks"))
        .filter_map(|r| r.body)
        .collect()
}

/// A second sync right after changes nothing anywhere.
#[track_caller]
fn quiet(w: &GhWorld) {
    w.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

/// A rich description becomes Markdown in the file; that Markdown, as a new file, makes a
/// task with the very same rich text; a one-word edit in the file reaches Asana's
/// `html_notes` byte-identical apart from that word, sent as `html_notes` (no `notes`).
#[test]
fn a_rich_description_survives_a_markdown_folder_both_ways() {
    let w = markdown_world();
    let gid = w.add_task("Release", |s| s.html_notes = Some(RICH.to_owned()));
    w.sync();
    let (name, text) = file_of(&w, &gid);
    assert_eq!(body(&text), format!("{RICH_MD}\n"), "{text}");
    quiet(&w);

    // The same Markdown in a new file: a new task with the same rich text.
    write_file(
        &w,
        "copy.md",
        &format!("---\ntitle: Copy of the plan\n---\n{RICH_MD}\n"),
    );
    w.sync();
    let copy = w
        .asana
        .project_tasks(&w.project)
        .into_iter()
        .find(|t| t.name == "Copy of the plan")
        .expect("created from the file");
    assert_eq!(copy.html_notes, RICH);
    quiet(&w);

    // One word changed in the file: only that word changes in Asana's rich text.
    w.clear_requests();
    write_file(&w, &name, &text.replace("*small*", "*tiny*"));
    w.sync();
    assert_eq!(html_notes(&w, &gid), RICH.replace("small", "tiny"));
    let bodies = task_write_bodies(&w);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0]["data"].get("notes").is_none(), "{:?}", bodies[0]);
    assert_eq!(
        bodies[0]["data"]["html_notes"],
        RICH.replace("small", "tiny")
    );
    quiet(&w);

    // A formatting edit in Asana reaches the file as Markdown.
    w.asana.edit_task(
        &gid,
        TaskEdit {
            html_notes: Some(RICH.replace("<em>small</em>", "<s>small</s>")),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let (_, text) = file_of(&w, &gid);
    assert!(body(&text).contains("and ~~small~~, see"), "{text}");
    quiet(&w);
}

/// Inline images as Asana sends them mirror into the file as the same inline HTML, byte
/// for byte, and survive one-word edits of the text around them: Asana's `html_notes`
/// comes back identical apart from those words, sent as `html_notes`. An image typed in a
/// new file the way Asana writes one makes a task with it; a tag Asana would refuse,
/// typed in the same file, reaches Asana as text, never as a tag.
#[test]
fn inline_images_survive_a_markdown_folder_byte_for_byte() {
    let w = markdown_world();
    let gid = w.add_task("Crash report", |s| s.html_notes = Some(IMAGE.to_owned()));
    w.sync();
    let (name, text) = file_of(&w, &gid);
    assert_eq!(body(&text), format!("{IMAGE_MD}\n"), "{text}");
    quiet(&w);

    w.clear_requests();
    let edited = text
        .replace("on **login**", "on **signup**")
        .replace("trace* above", "trace* below");
    write_file(&w, &name, &edited);
    w.sync();
    let expected = IMAGE
        .replace("<strong>login</strong>", "<strong>signup</strong>")
        .replace("</em> above", "</em> below");
    assert_eq!(html_notes(&w, &gid), expected);
    let bodies = task_write_bodies(&w);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0]["data"].get("notes").is_none(), "{:?}", bodies[0]);
    assert_eq!(bodies[0]["data"]["html_notes"], expected);
    quiet(&w);

    write_file(
        &w,
        "typed.md",
        "---\ntitle: Typed\n---\n<img data-asana-gid=\"1201\" alt=\"again\"/>\n\
         <table><tr><td>x</td></tr></table>\n",
    );
    w.sync();
    let typed = w
        .asana
        .project_tasks(&w.project)
        .into_iter()
        .find(|t| t.name == "Typed")
        .expect("created from the file");
    assert_eq!(
        typed.html_notes,
        "<body><img data-asana-gid=\"1201\" alt=\"again\"/>\n\
         &lt;table&gt;&lt;tr&gt;&lt;td&gt;x&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;</body>"
    );
}

/// A description with something Markdown cannot carry back (an image Asana would not take
/// back) shows as its
/// plain text and is never written over: an edit of the body is an error naming the task
/// and the file, Asana's rich text stays byte for byte, and the title edited at the same
/// time still reaches Asana.
#[test]
fn an_inexpressible_description_is_never_overwritten_from_a_file() {
    let w = markdown_world();
    let gid = w.add_task("Crash report", |s| {
        s.html_notes = Some(UNSENDABLE.to_owned())
    });
    w.sync();
    let (name, text) = file_of(&w, &gid);
    assert_eq!(body(&text), "Crash:  on login\n", "{text}");
    quiet(&w);

    let edited = text
        .replace("on login", "on the login page")
        .replace("title: Crash report", "title: Crash on login");
    assert_ne!(edited, text);
    write_file(&w, &name, &edited);
    w.clear_requests();
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&gid) && out.stderr.contains(&name),
        "names the task and the file: {}",
        out.stderr
    );
    assert!(out.stderr.contains("not overwritten"), "{}", out.stderr);
    assert_eq!(html_notes(&w, &gid), UNSENDABLE, "rich text untouched");
    assert_eq!(w.asana.task(&gid).expect("task").name, "Crash on login");
    for body in task_write_bodies(&w) {
        assert!(body["data"].get("notes").is_none(), "{body}");
        assert!(body["data"].get("html_notes").is_none(), "{body}");
    }

    // Still refused on the next run, and still nothing written over the description.
    w.clear_requests();
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(html_notes(&w, &gid), UNSENDABLE);
    let (_, text) = file_of(&w, &gid);
    assert!(
        text.contains("on the login page"),
        "the file keeps its edit: {text}"
    );
}

/// The same on a GitHub link: the rich description is the issue body's Markdown, goes
/// back unchanged, a one-word edit of the issue changes only that word in Asana, and an
/// inexpressible description is never overwritten from the issue.
#[test]
fn a_rich_description_survives_an_issue_body_both_ways() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Release", |s| s.html_notes = Some(RICH.to_owned()));
    let image = w.add_task("Crash report", |s| {
        s.html_notes = Some(UNSENDABLE.to_owned())
    });
    let shot = w.add_task("Screenshot", |s| s.html_notes = Some(IMAGE.to_owned()));
    w.sync();
    let issue = w.issue_of(&gid);
    assert_eq!(
        issue.body.as_deref(),
        Some(w.body_for(RICH_MD, &gid).as_str())
    );
    assert_eq!(html_notes(&w, &gid), RICH);
    // Inline images are the issue body's inline HTML, as in a file.
    assert_eq!(
        w.issue_of(&shot).body.as_deref(),
        Some(w.body_for(IMAGE_MD, &shot).as_str())
    );
    quiet(&w);

    w.github.edit_issue(
        issue.number,
        IssueEdit {
            body: Some(Some(
                w.body_for(&RICH_MD.replace("*small*", "*tiny*"), &gid),
            )),
            ..IssueEdit::default()
        },
    );
    w.clear_requests();
    w.sync();
    assert_eq!(html_notes(&w, &gid), RICH.replace("small", "tiny"));
    for body in task_write_bodies(&w) {
        assert!(body["data"].get("notes").is_none(), "{body}");
    }
    quiet(&w);

    let crash = w.issue_of(&image);
    assert_eq!(
        crash.body.as_deref(),
        Some(w.body_for("Crash:  on login", &image).as_str())
    );
    w.github.edit_issue(
        crash.number,
        IssueEdit {
            body: Some(Some(w.body_for("Flattened", &image))),
            ..IssueEdit::default()
        },
    );
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(&image), "{}", out.stderr);
    assert_eq!(html_notes(&w, &image), UNSENDABLE, "rich text untouched");
}

/// The fixture of the previous release (`tests/fixtures/state-v1`, see its README), its
/// simulators seeded again with the same gids, except that the descriptions in `rich`
/// (by gid) are rich text whose plain text is what that release read and recorded.
fn restore_previous_release(rich: &[(&str, &str)]) -> GhWorld {
    use std::path::Path;
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create dir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1");
    let text = std::fs::read_to_string(fixture.join("sims.json")).expect("sims.json");
    let sims: serde_json::Value = serde_json::from_str(&text).expect("sims.json is JSON");
    let w = GhWorld::new("newest");
    let roadmap = w.asana.create_project("Roadmap");
    assert_eq!(w.project, sims["bugs_project"]);
    assert_eq!(roadmap, sims["roadmap_project"]);
    let mut tasks: Vec<(String, asana_sim::SimTask)> = Vec::new();
    for (key, project) in [("roadmap_tasks", &roadmap), ("bugs_tasks", &w.project)] {
        let listed: Vec<asana_sim::SimTask> =
            serde_json::from_value(sims[key].clone()).expect("tasks in sims.json");
        tasks.extend(listed.into_iter().map(|t| (project.clone(), t)));
    }
    tasks.sort_by_key(|(_, t)| t.gid.parse::<u64>().expect("numeric gid"));
    let mut last: u64 = roadmap.parse().expect("numeric gid");
    for (project, t) in tasks {
        let want: u64 = t.gid.parse().expect("numeric gid");
        for _ in last + 1..want {
            w.asana.create_project("(a gid spent elsewhere)");
        }
        let html = rich
            .iter()
            .find(|(gid, _)| *gid == t.gid)
            .map(|(_, html)| (*html).to_owned());
        let gid = w.asana.add_task(
            &project,
            gh::TaskSeed {
                name: t.name,
                notes: t.notes,
                html_notes: html,
                completed: t.completed,
                due_on: t.due_on,
                assignee: t.assignee,
                tags: t.tags,
                section: t.section,
                ..gh::TaskSeed::default()
            },
        );
        assert_eq!(gid, t.gid, "seeded in gid order");
        last = want;
    }
    let issues: Vec<gh::SimIssue> =
        serde_json::from_value(sims["issues"].clone()).expect("issues in sims.json");
    for i in issues {
        let number = w.github.add_issue(gh::IssueSeed {
            title: i.title,
            body: i.body,
            labels: i.labels,
            assignees: i.assignees,
            closed: i.state == "closed",
        });
        assert_eq!(number, i.number, "seeded in number order");
    }
    copy_tree(&fixture.join("state"), &w.dir.path().join(".asana-bridge"));
    copy_tree(&fixture.join("roadmap"), &md_dir(&w));
    let config = format!(
        "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n\
         [[link]]\nname = \"roadmap\"\nasana_project = \"{roadmap}\"\nconflict = \"manual\"\n\
         on_delete = \"complete\"\nmarkdown = {{ dir = \"roadmap\" }}\n\n\
         [[link]]\nname = \"bugs\"\nasana_project = \"{}\"\nconflict = \"newest\"\n\
         github = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n\n\
         [users]\n\"alice@example.com\" = \"alice-gh\"\n",
        w.project,
        w.github.base_url()
    );
    std::fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");
    w
}

/// The first run after the upgrade: the previous release recorded the plain text of
/// descriptions. A plain one reads the same as Markdown and nothing happens (the fixture's
/// own test, `state_schema.rs`); one that was rich in Asana (which that release showed
/// flattened) now reads as its Markdown, so the file and the issue body get the formatting
/// back, while Asana's rich text is not written at all. The next run is quiet.
#[test]
fn after_the_upgrade_rich_descriptions_reach_files_and_issues_and_asana_is_untouched() {
    const IDEA: &str = "1200000000000012"; // local-idea.md, "Noted offline."
    const BUG: &str = "1200000000000010"; // issue #2, "Stack trace attached."
    let idea_html = "<body>Noted <strong>offline</strong>.</body>";
    let bug_html = "<body>Stack trace <em>attached</em>.</body>";
    let w = restore_previous_release(&[(IDEA, idea_html), (BUG, bug_html)]);
    assert_eq!(w.asana.task(IDEA).expect("task").notes, "Noted offline.");
    assert_eq!(
        w.asana.task(BUG).expect("task").notes,
        "Stack trace attached."
    );

    w.clear_requests();
    // Exit 3: the fixture's held title conflict stays held.
    let out = w.run(&["sync"]).expect(3);
    let (_, text) = file_of(&w, IDEA);
    assert_eq!(body(&text), "Noted **offline**.\n", "{}", out.stdout);
    assert_eq!(
        w.issue_of(BUG).body.as_deref(),
        Some(w.body_for("Stack trace *attached*.", BUG).as_str())
    );
    assert_eq!(html_notes(&w, IDEA), idea_html);
    assert_eq!(html_notes(&w, BUG), bug_html);
    let writes = w.all_writes();
    assert!(
        !writes
            .iter()
            .any(|r| r.contains(&format!("/tasks/{IDEA}")) || r.contains(&format!("/tasks/{BUG}"))),
        "nothing written to those tasks: {writes:#?}"
    );

    w.clear_requests();
    w.run(&["sync"]).expect(3);
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

//! JSON shapes of each resource, with every property the description marks required:
//! `issue` (a pull request carries the `pull_request` object), `label`, `simple-user`,
//! `private-user`, `hook` and `issue-comment`, and the `repository` of webhook payloads. URLs point at `https://api.github.com` like the real service's; only
//! `Link` headers point at the simulator.

use serde_json::{Value, json};

use crate::state::{Hook, Issue, IssueComment, Label, State, iso};

const API: &str = "https://api.github.com";
const WEB: &str = "https://github.com";

/// `simple-user`.
pub fn simple_user(st: &State, login: &str) -> Value {
    let id = st.user_id(login);
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{API}/users/{login}"),
        "html_url": format!("{WEB}/{login}"),
        "followers_url": format!("{API}/users/{login}/followers"),
        "following_url": format!("{API}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{API}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{API}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{API}/users/{login}/subscriptions"),
        "organizations_url": format!("{API}/users/{login}/orgs"),
        "repos_url": format!("{API}/users/{login}/repos"),
        "events_url": format!("{API}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{API}/users/{login}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false
    })
}

/// `private-user`: `GET /user`.
pub fn private_user(st: &State) -> Value {
    let mut user = simple_user(st, &st.me);
    let extra = json!({
        "name": "asana-bridge bot",
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": null,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "private_gists": 0,
        "total_private_repos": 1,
        "owned_private_repos": 1,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": true,
        "user_view_type": "private"
    });
    if let (Some(u), Some(e)) = (user.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            u.insert(k.clone(), v.clone());
        }
    }
    user
}

/// `label`.
pub fn label(st: &State, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": format!("LA_kwDO{}", l.id),
        "url": format!("{API}/repos/{}/{}/labels/{}", st.owner, st.name, l.name),
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "default": matches!(l.name.as_str(), "bug" | "enhancement")
    })
}

/// `issue`.
pub fn issue(st: &State, i: &Issue) -> Value {
    let repo_url = format!("{API}/repos/{}/{}", st.owner, st.name);
    let kind = if i.pull_request { "pull" } else { "issues" };
    let html_url = format!("{WEB}/{}/{}/{kind}/{}", st.owner, st.name, i.number);
    let labels: Vec<Value> = i
        .labels
        .iter()
        .filter_map(|id| st.label(*id))
        .map(|l| label(st, l))
        .collect();
    let assignees: Vec<Value> = i.assignees.iter().map(|a| simple_user(st, a)).collect();
    let mut v = json!({
        "id": i.id,
        "node_id": format!("I_kwDO{}", i.id),
        "url": format!("{repo_url}/issues/{}", i.number),
        "repository_url": repo_url,
        "labels_url": format!("{repo_url}/issues/{}/labels{{/name}}", i.number),
        "comments_url": format!("{repo_url}/issues/{}/comments", i.number),
        "events_url": format!("{repo_url}/issues/{}/events", i.number),
        "html_url": html_url,
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": simple_user(st, &i.user),
        "labels": labels,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": i.comments,
        "closed_at": i.closed_at.map(iso),
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_by": i.closed_by.as_deref().map(|u| simple_user(st, u)),
        "author_association": "OWNER",
        "timeline_url": format!("{repo_url}/issues/{}/timeline", i.number)
    });
    if i.pull_request {
        v["pull_request"] = json!({
            "url": format!("{repo_url}/pulls/{}", i.number),
            "html_url": format!("{WEB}/{}/{}/pull/{}", st.owner, st.name, i.number),
            "diff_url": format!("{WEB}/{}/{}/pull/{}.diff", st.owner, st.name, i.number),
            "patch_url": format!("{WEB}/{}/{}/pull/{}.patch", st.owner, st.name, i.number),
            "merged_at": null
        });
        v["draft"] = json!(false);
    }
    v
}

/// `hook`: the secret is never shown, only `"********"` when there is one.
pub fn hook(st: &State, h: &Hook) -> Value {
    let url = format!("{API}/repos/{}/{}/hooks/{}", st.owner, st.name, h.id);
    let mut config = json!({
        "content_type": h.content_type,
        "insecure_ssl": h.insecure_ssl,
        "url": h.url
    });
    if h.secret.is_some() {
        config["secret"] = json!("********");
    }
    json!({
        "type": "Repository",
        "id": h.id,
        "name": "web",
        "active": h.active,
        "events": h.events,
        "config": config,
        "updated_at": iso(h.updated_at),
        "created_at": iso(h.created_at),
        "url": url,
        "test_url": format!("{url}/test"),
        "ping_url": format!("{url}/pings"),
        "deliveries_url": format!("{url}/deliveries"),
        "last_response": {
            "code": h.last_code,
            "status": h.last_status,
            "message": h.last_message
        }
    })
}

/// The `repository` of a webhook payload (the main properties of a `repository`).
pub fn repository(st: &State) -> Value {
    let full_name = format!("{}/{}", st.owner, st.name);
    let url = format!("{API}/repos/{full_name}");
    json!({
        "id": st.repo_id,
        "node_id": format!("R_kgDO{}", st.repo_id),
        "name": st.name,
        "full_name": full_name,
        "private": true,
        "owner": simple_user(st, &st.owner),
        "html_url": format!("{WEB}/{full_name}"),
        "description": null,
        "fork": false,
        "url": url,
        "issues_url": format!("{url}/issues{{/number}}"),
        "labels_url": format!("{url}/labels{{/name}}"),
        "hooks_url": format!("{url}/hooks"),
        "default_branch": "main",
        "has_issues": true,
        "visibility": "private"
    })
}

/// `issue-comment`.
pub fn comment(st: &State, issue: &Issue, c: &IssueComment) -> Value {
    let repo_url = format!("{API}/repos/{}/{}", st.owner, st.name);
    let kind = if issue.pull_request { "pull" } else { "issues" };
    let id = c.id;
    json!({
        "id": id,
        "node_id": format!("IC_kwDO{id}"),
        "url": format!("{repo_url}/issues/comments/{id}"),
        "html_url": format!(
            "{WEB}/{}/{}/{kind}/{}#issuecomment-{id}",
            st.owner, st.name, issue.number
        ),
        "body": c.body,
        "user": simple_user(st, &c.user),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "issue_url": format!("{repo_url}/issues/{}", issue.number),
        "author_association": if c.user == st.owner { "OWNER" } else if st.users.contains_key(&c.user) { "COLLABORATOR" } else { "NONE" }
    })
}

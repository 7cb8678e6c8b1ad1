//! The command centre's web console (指挥中心控制台, issue 23, ADR 0026): plain HTML pages served
//! by `gridwork-server` itself under `/console`, for dispatchers and admins, in Chinese.
//!
//! | page | what |
//! |---|---|
//! | `GET /console/login`, `POST /console/login`, `POST /console/logout` | sign-in ([`auth`]) |
//! | `GET /console/board` | the live supervision board ([`board`]); `GET /console/board/live` is its body, re-read when `GET /console/events` (server-sent events) says a push touched the user's scope |
//! | `GET /console/cases/{id}`, `POST /console/cases/{id}/step` | a case's timeline and the dispatcher's steps ([`actions`]) |
//! | `GET /console/blobs/{hash}` | a photo's bytes, when a case or record referencing it is in the user's scope (issue 24) |
//! | `GET /console/buildings/{id}`, `GET /console/households/{id}` | a building's or household's fields and photos ([`places`]) |
//! | `GET /console/brief`, `/console/brief.csv`, `/console/brief.xlsx` | the Tuesday review ([`brief`]) |
//! | `GET /console/registration` | registration and key groups by grid ([`registry`]) |
//! | `GET /console/phones` | the phones of the area's users ([`registry`]) |
//! | `GET /console/map` | the buildings placed by position, as SVG ([`registry`]) |
//!
//! Every page reads only what the signed-in user may see ([`world::World::load`], the same rules
//! as a phone's snapshot), and every change is a case event pushed through the same planner
//! as a phone's push. Templates are checked at compile time (askama, `templates/console/`); the
//! one script (`static/console.js`) is ours, committed as a file.

use std::convert::Infallible;
use std::sync::LazyLock;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gridwork_domain::ids::Id;
use gridwork_domain::model::Term;
use gridwork_domain::scope::ScopeView;
use gridwork_domain::workflow::available_actions;
use serde::Deserialize;

use crate::auth::constant_time_eq;
use crate::http::AppState;
use crate::rules::reading::{self, ScopeFilter};
use crate::storage::{ConsoleSession, Storage, StorageError, User};

pub mod actions;
pub mod auth;
pub mod board;
pub mod brief;
pub mod labels;
pub mod places;
pub mod registry;
pub mod world;

use actions::{StepClock, StepForm};
use world::World;

/// Whether the server answers over TLS (the session cookie is then `Secure`). The server adds
/// it to every request ([`crate::server`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tls(pub bool);

static STEP_CLOCK: LazyLock<StepClock> = LazyLock::new(StepClock::default);

/// The console's routes, merged into the server's router.
pub fn routes<S: Storage>() -> Router<AppState<S>> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/board") }))
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/board") }),
        )
        .route("/console/login", get(login_page).post(login::<S>))
        .route("/console/logout", post(logout::<S>))
        .route("/console/board", get(board_page::<S>))
        .route("/console/board/live", get(board_live::<S>))
        .route("/console/events", get(events::<S>))
        .route("/console/cases/{id}", get(case_page::<S>))
        .route("/console/cases/{id}/step", post(case_step::<S>))
        .route("/console/blobs/{hash}", get(blob::<S>))
        .route("/console/buildings/{id}", get(places::building::<S>))
        .route("/console/households/{id}", get(places::household::<S>))
        .route("/console/brief", get(brief::page::<S>))
        .route("/console/brief.csv", get(brief::csv::<S>))
        .route("/console/brief.xlsx", get(brief::xlsx::<S>))
        .route("/console/registration", get(registry::registration::<S>))
        .route("/console/phones", get(registry::phones::<S>))
        .route("/console/map", get(registry::map::<S>))
        .route("/console/static/console.js", get(script))
        .route("/console/static/console.css", get(style))
}

/// A photo's bytes for the signed-in user: the rule and answers of `GET /v1/blobs/{hash}`
/// ([`crate::http::blobs`]) applied to the console user's scope.
///
/// `?type=image/jpeg` (one of [`IMAGE_TYPES`]) answers under that content type, so the browser
/// shows the picture.
async fn blob<S: Storage>(
    State(state): State<AppState<S>>,
    Path(hash): Path<String>,
    Query(q): Query<BlobQuery>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, false).await?;
    Ok(
        match crate::http::blobs::serve_blob(&state, signed.view, &hash, &headers).await {
            Ok(mut r) => {
                if let Some(t) = q
                    .media_type
                    .and_then(|t| IMAGE_TYPES.iter().find(|i| i.eq_ignore_ascii_case(&t)))
                    && r.status().is_success()
                {
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
                }
                r
            }
            Err(e) => e.into_response(),
        },
    )
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/console.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/console.css"),
    )
        .into_response()
}

/// A signed-in user: the session, who, and what they may see.
#[derive(Debug, Clone)]
pub struct Signed {
    pub session: ConsoleSession,
    pub user: User,
    pub view: ScopeView,
}

/// An answer that is not the page asked for: the sign-in page, or a refusal.
#[derive(Debug)]
pub enum Refusal {
    /// No session, or an expired one: to the sign-in page.
    SignIn,
    /// Refused, with the words shown.
    Status(StatusCode, String),
    Storage(StorageError),
}

impl From<StorageError> for Refusal {
    fn from(e: StorageError) -> Self {
        Refusal::Storage(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn => {
                let mut r = Redirect::to("/console/login?expired=1").into_response();
                // A script's fetch sees the status, a browser follows the redirect.
                r.headers_mut()
                    .insert("x-console-signin", HeaderValue::from_static("1"));
                r
            }
            Refusal::Status(status, words) => (status, Html(message_page(&words))).into_response(),
            Refusal::Storage(e) => {
                tracing::error!(error = %e, "console: storage failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(message_page("服务器暂时无法读取数据，请稍后再试")),
                )
                    .into_response()
            }
        }
    }
}

fn message_page(words: &str) -> String {
    MessagePage { words }
        .render()
        .unwrap_or_else(|_| "error".into())
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    words: &'a str,
}

/// The signed-in user of a request. `touch`: the request counts as activity (a page the user
/// opened, a step), not a background refresh.
pub async fn signed_in<S: Storage>(
    state: &AppState<S>,
    headers: &HeaderMap,
    touch: bool,
) -> Result<Signed, Refusal> {
    let Some(token) = auth::cookie(headers, auth::COOKIE) else {
        return Err(Refusal::SignIn);
    };
    let hash = auth::hash_token(token);
    let now = state.now_ms();
    let Some(session) = state.storage.console_session(hash.clone()).await? else {
        return Err(Refusal::SignIn);
    };
    if now.saturating_sub(session.seen_ms) > auth::IDLE_MS {
        state
            .storage
            .delete_console_session(hash, now.saturating_sub(auth::IDLE_MS))
            .await?;
        return Err(Refusal::SignIn);
    }
    let Some(user) = state.storage.user(session.user).await? else {
        return Err(Refusal::SignIn);
    };
    if !actions::console_role(user.role) {
        return Err(Refusal::SignIn);
    }
    if touch {
        state.storage.touch_console_session(hash, now).await?;
    }
    let view = state.storage.scope_view(&user).await?;
    Ok(Signed {
        session,
        user,
        view,
    })
}

/// Checks a change: same origin, signed in, the session's CSRF token.
pub async fn signed_change<S: Storage>(
    state: &AppState<S>,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Signed, Refusal> {
    if !auth::same_origin(headers) {
        tracing::warn!("console: a cross-site form post was refused");
        return Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "拒绝：跨站提交的表单".into(),
        ));
    }
    let signed = signed_in(state, headers, true).await?;
    if !constant_time_eq(csrf.as_bytes(), signed.session.csrf.as_bytes()) {
        tracing::warn!(user = %signed.user.id, "console: a change without the session's CSRF token was refused");
        return Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "拒绝：表单已失效，请刷新页面后重试".into(),
        ));
    }
    Ok(signed)
}

/// The navigation bar's facts.
#[derive(Debug, Clone)]
pub struct Nav {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub here: &'static str,
}

impl Nav {
    pub fn of(signed: &Signed, here: &'static str) -> Nav {
        Nav {
            user: signed.user.name.clone(),
            role: signed.user.role.zh(),
            csrf: signed.session.csrf.clone(),
            here,
        }
    }
}

fn html(t: impl Template) -> Response {
    match t.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: a template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ---- sign-in -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    html(LoginPage {
        error: None,
        notice: q.expired.map(|_| "登录已过期或尚未登录，请重新登录"),
    })
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    name: String,
    password: String,
}

async fn login<S: Storage>(
    State(state): State<AppState<S>>,
    tls: Option<axum::Extension<Tls>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Refusal> {
    if !auth::same_origin(&headers) {
        return Err(Refusal::Status(
            StatusCode::FORBIDDEN,
            "拒绝：跨站提交的表单".into(),
        ));
    }
    let name = form.name.trim().to_string();
    let candidates: Vec<User> = state
        .storage
        .users()
        .await?
        .into_iter()
        .filter(|u| u.name == name && actions::console_role(u.role))
        .collect();
    let mut found = None;
    for user in candidates {
        let hash = state.storage.console_password(user.id).await?;
        if hash.is_none() {
            continue;
        }
        let password = form.password.clone();
        let ok =
            tokio::task::spawn_blocking(move || auth::verify_password(&password, hash.as_deref()))
                .await
                .unwrap_or(false);
        if ok {
            found = Some(user);
            break;
        }
    }
    let Some(user) = found else {
        // As long as a real check: a wrong name is not told apart from a wrong password.
        let password = form.password.clone();
        let _ = tokio::task::spawn_blocking(move || auth::verify_password(&password, None)).await;
        tracing::warn!("console: a sign-in was refused (wrong name or password)");
        return Ok((
            StatusCode::UNAUTHORIZED,
            html(LoginPage {
                error: Some("用户名或密码错误"),
                notice: None,
            }),
        )
            .into_response());
    };
    let token = auth::new_token();
    let now = state.now_ms();
    let hash = auth::hash_token(&token);
    // Sessions idle past the limit are cleared on the way.
    state
        .storage
        .delete_console_session(String::new(), now.saturating_sub(auth::IDLE_MS))
        .await?;
    state
        .storage
        .insert_console_session(ConsoleSession {
            token_hash: hash,
            user: user.id,
            csrf: auth::new_token(),
            created_ms: now,
            seen_ms: now,
        })
        .await?;
    tracing::info!(user = %user.id, "console: signed in");
    let tls = tls.is_some_and(|t| t.0.0);
    let mut r = Redirect::to("/console/board").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&auth::session_cookie(Some(&token), tls))
            .map_err(|_| Refusal::Status(StatusCode::INTERNAL_SERVER_ERROR, "cookie".into()))?,
    );
    Ok(r)
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout<S: Storage>(
    State(state): State<AppState<S>>,
    tls: Option<axum::Extension<Tls>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Refusal> {
    let signed = signed_change(&state, &headers, &form.csrf).await?;
    state
        .storage
        .delete_console_session(signed.session.token_hash, 0)
        .await?;
    let tls = tls.is_some_and(|t| t.0.0);
    let mut r = Redirect::to("/console/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(None, tls)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    // Photos are cached by the browser for a year (`private, immutable`): signing out clears
    // them, so the next person at this browser is not shown another user's photos from cache.
    r.headers_mut()
        .insert("clear-site-data", HeaderValue::from_static("\"cache\""));
    Ok(r)
}

// ---- the board -----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/board.html")]
struct BoardPage {
    nav: Nav,
    /// The rendered [`BoardLive`].
    live: String,
}

#[derive(Template)]
#[template(path = "console/board_live.html")]
struct BoardLive {
    board: board::Board,
    now_ms: u64,
    now: String,
}

async fn live_of<S: Storage>(state: &AppState<S>, signed: &Signed) -> Result<BoardLive, Refusal> {
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let now = state.now_ms();
    Ok(BoardLive {
        board: board::board(&world, now),
        now_ms: now,
        now: labels::datetime(now),
    })
}

async fn board_page<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let live = live_of(&state, &signed)
        .await?
        .render()
        .map_err(|e| Refusal::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(html(BoardPage {
        nav: Nav::of(&signed, "board"),
        live,
    }))
}

async fn board_live<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, false).await?;
    Ok(html(live_of(&state, &signed).await?))
}

/// `GET /console/events`: a server-sent event each time a push touches the user's scope
/// (the page then re-reads the board), and a comment every 15 s to keep proxies from closing
/// it. Ends when the server stops.
async fn events<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, false).await?;
    let filter = ScopeFilter::for_view(signed.view);
    let interest = state.storage.wakeups().register(filter.buckets());
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold(
        (interest, shutdown),
        |(interest, mut shutdown)| async move {
            tokio::select! {
                () = interest.notified() => {
                    let event = Event::default().event("change").data(interest.latest().to_string());
                    Some((Ok::<_, Infallible>(event), (interest, shutdown)))
                }
                stopped = async { shutdown.wait_for(|s| *s).await.is_ok() } => {
                    if !stopped {
                        // Nobody can stop this server: wait on pushes alone.
                        interest.notified().await;
                        let event = Event::default().event("change").data(interest.latest().to_string());
                        return Some((Ok(event), (interest, shutdown)));
                    }
                    None
                }
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

// ---- a case --------------------------------------------------------------------------------

/// One step of a case's timeline.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub at: String,
    pub who: String,
    pub step: &'static str,
    pub detail: String,
    pub flagged: Option<String>,
    /// A photo step's picture: its thumbnail and the whole, fetched through
    /// `/console/blobs/{hash}`.
    pub photo: Option<PhotoLink>,
}

/// Where a timeline's photo is fetched: the thumbnail shown, the picture linked.
#[derive(Debug, Clone)]
pub struct PhotoLink {
    pub thumbnail: String,
    pub full: String,
}

impl PhotoLink {
    /// The links of a photo step (the picture stands in for a missing thumbnail).
    pub fn of(action: &gridwork_domain::workflow::CaseAction) -> Option<PhotoLink> {
        let gridwork_domain::workflow::CaseAction::Photo {
            attachment: Some(a),
            ..
        } = action
        else {
            return None;
        };
        Some(PhotoLink::of_ref(a))
    }

    /// The links of a photo's reference (a step's, or a building's or household's field).
    pub fn of_ref(a: &gridwork_domain::attachment::AttachmentRef) -> PhotoLink {
        let media = IMAGE_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(&a.media_type))
            .map(|t| format!("?type={t}"))
            .unwrap_or_default();
        PhotoLink {
            thumbnail: format!(
                "/console/blobs/{}?type=image/jpeg",
                a.thumbnail.unwrap_or(a.blob).hash
            ),
            full: format!("/console/blobs/{}{media}", a.blob.hash),
        }
    }
}

/// The picture types the console serves under their own content type (so a browser shows the
/// picture rather than saving it); anything else is `application/octet-stream`. No SVG: it can
/// carry script.
pub const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/heic"];

#[derive(Debug, Deserialize)]
struct BlobQuery {
    #[serde(default, rename = "type")]
    media_type: Option<String>,
}

/// A person or station a case may go to.
#[derive(Debug, Clone)]
pub struct Choice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage {
    nav: Nav,
    id: Id,
    kind: &'static str,
    title: String,
    place: String,
    /// The case's building page, when the case names a building the user may see.
    place_href: Option<String>,
    severity: &'static str,
    opened: String,
    state: String,
    assignee: String,
    colour: &'static str,
    colour_zh: &'static str,
    due: String,
    timeline: Vec<TimelineRow>,
    steps: Vec<(&'static str, &'static str)>,
    people: Vec<Choice>,
    stations: Vec<Choice>,
    error: Option<String>,
}

async fn render_case<S: Storage>(
    state: &AppState<S>,
    signed: &Signed,
    id: Id,
    error: Option<String>,
) -> Result<Response, Refusal> {
    let world = World::load(state.storage.as_ref(), &signed.view).await?;
    let Some(row) = world.cases.iter().find(|c| c.case.id == id) else {
        return Err(Refusal::Status(
            StatusCode::NOT_FOUND,
            "没有这个案件，或它不在您的辖区内".into(),
        ));
    };
    let now = state.now_ms();
    let policy = world.policy_for(row.case.area_id);
    let supervised = gridwork_domain::workflow::supervise(&policy, &row.case, &row.fold, now);
    let (colour, colour_zh) = board::colour_names(supervised.map(|(_, c)| c));
    let timeline =
        gridwork_domain::workflow::fold(row.case.kind, row.case.opened_at_ms, &row.events);
    let mut rows = vec![TimelineRow {
        at: labels::datetime(row.case.opened_at_ms),
        who: "—".into(),
        step: "立案",
        detail: row.case.category.clone(),
        flagged: None,
        photo: None,
    }];
    for e in &row.events {
        rows.push(TimelineRow {
            at: labels::datetime(e.at_ms()),
            who: world.user_name(e.actor),
            step: labels::action_zh(e.action.name()),
            detail: labels::action_detail(&e.action),
            flagged: timeline
                .flagged
                .iter()
                .find(|f| f.event_id == e.id)
                .map(|f| f.reason.clone()),
            photo: PhotoLink::of(&e.action),
        });
    }
    let available = available_actions(row.case.kind, &row.fold.state);
    let steps: Vec<(&'static str, &'static str)> = actions::CONSOLE_STEPS
        .iter()
        .filter(|s| **s == "note" || available.contains(s))
        .map(|s| (*s, labels::action_zh(s)))
        .collect();
    // The people of the case's area who may take it on: gridworkers, mediators and
    // dispatchers whose scope covers the case's place.
    let mut people: Vec<Choice> = world
        .users
        .values()
        .filter(|u| {
            matches!(
                u.role,
                gridwork_domain::sync::Role::Gridworker
                    | gridwork_domain::sync::Role::Mediator
                    | gridwork_domain::sync::Role::Dispatcher
            ) && u.scope.iter().any(|s| world.within(row.case.area_id, *s))
        })
        .map(|u| Choice {
            id: u.id.to_string(),
            name: format!("{}（{}）", u.name, u.role.zh()),
        })
        .collect();
    people.sort_by(|a, b| a.name.cmp(&b.name));
    let mut stations: Vec<Choice> = world
        .stations
        .values()
        .map(|s| Choice {
            id: s.id.to_string(),
            name: s.name.clone(),
        })
        .collect();
    stations.sort_by(|a, b| a.name.cmp(&b.name));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        html(CasePage {
            nav: Nav::of(signed, "board"),
            id,
            kind: row.case.kind.zh(),
            title: row.case.title.clone(),
            place: board::place_of(&world, row.case.building_id, row.case.area_id),
            place_href: row
                .case
                .building_id
                .filter(|b| world.buildings.contains_key(b))
                .map(|b| format!("/console/buildings/{b}")),
            severity: row.case.severity.zh(),
            opened: labels::datetime(row.case.opened_at_ms),
            state: labels::state_zh(&row.fold.state),
            assignee: world.user_name(row.fold.assignee),
            colour,
            colour_zh,
            due: supervised
                .map(|(d, _)| labels::due_words(d.due_ms, now))
                .unwrap_or_else(|| "—".into()),
            timeline: rows,
            steps,
            people,
            stations,
            error,
        }),
    )
        .into_response())
}

async fn case_page<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let signed = signed_in(&state, &headers, true).await?;
    let id = parse_case_id(&id)?;
    render_case(&state, &signed, id, None).await
}

fn parse_case_id(s: &str) -> Result<Id, Refusal> {
    uuid::Uuid::try_parse(s)
        .map_err(|_| Refusal::Status(StatusCode::NOT_FOUND, "没有这个案件".into()))
}

async fn case_step<S: Storage>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<StepForm>,
) -> Result<Response, Refusal> {
    let signed = signed_change(&state, &headers, &form.csrf).await?;
    let id = parse_case_id(&id)?;
    // Only a case the user may see: the same rule as a phone's read.
    let visible = state
        .storage
        .placed_record(id)
        .await?
        .filter(|r| r.state.kind == gridwork_domain::op::EntityKind::Case)
        .and_then(|r| reading::admit_record(&ScopeFilter::for_view(signed.view.clone()), r));
    if visible.is_none() {
        return Err(Refusal::Status(
            StatusCode::NOT_FOUND,
            "没有这个案件，或它不在您的辖区内".into(),
        ));
    }
    let action = match actions::step_of(&form) {
        Ok(a) => a,
        Err(words) => return render_case(&state, &signed, id, Some(words)).await,
    };
    let step = action.name();
    let outcome = actions::take_step(
        state.storage.as_ref(),
        &STEP_CLOCK,
        actions::session_device(&signed.session.token_hash),
        signed.user.id,
        signed.view.clone(),
        id,
        action,
        state.now_ms(),
    )
    .await?;
    match outcome {
        Ok(()) => {
            tracing::info!(user = %signed.user.id, case = %id, step, "console: a step was taken");
            Ok(Redirect::to(&format!("/console/cases/{id}")).into_response())
        }
        Err(message) => {
            tracing::warn!(user = %signed.user.id, case = %id, step, "console: a step was refused");
            render_case(&state, &signed, id, Some(format!("未能提交：{message}"))).await
        }
    }
}

/// A `Deserialize` helper: a query parameter that may be empty.
pub fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

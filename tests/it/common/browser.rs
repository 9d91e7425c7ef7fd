//! A real headless Chromium, driven through chromedriver (WebDriver) with fantoccini.
//!
//! Every page a test looks at goes through [`Browser::visit`] (or [`Browser::check_axe`] after a
//! form submission): it keeps a screenshot in `target/test-artifacts/screenshots/<name>.png` and
//! runs axe-core (WCAG 2.1 A and AA rules) on the page, failing the test on any violation.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and axe-core in `e2e/node_modules`
//! (`npm ci --prefix e2e`). Without chromedriver, [`Browser::start`] returns None so that the
//! test can skip, unless `PASSNUM_REQUIRE_BROWSER=1` (CI), where it panics instead.
//!
//! Screenshot names must be unique across the whole test run (tests run in parallel): prefix
//! them with the test's name, e.g. `"signup-01-form"`.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The default window, like a small laptop.
pub const DEFAULT_SIZE: (u32, u32) = (1280, 900);
/// The narrowest phone layout that must still work (WCAG 1.4.10, reflow at 320 CSS pixels).
pub const PHONE_WIDTH: u32 = 320;
/// How long to wait for an element, a navigation, or chromedriver to answer.
pub const WAIT: Duration = Duration::from_secs(10);
/// What axe-core may take on a large page on a slow machine.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The rules that are run: WCAG 2.0 and 2.1, levels A and AA.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/test-artifacts`, created if needed.
pub fn artifacts_dir() -> PathBuf {
    let dir = root().join("target").join("test-artifacts");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// `target/test-artifacts/screenshots`, created if needed.
pub fn screenshots_dir() -> PathBuf {
    let dir = artifacts_dir().join("screenshots");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// `e2e/node_modules/axe-core/axe.min.js`.
pub fn axe_path() -> PathBuf {
    root()
        .join("e2e")
        .join("node_modules")
        .join("axe-core")
        .join("axe.min.js")
}

/// True when `PASSNUM_REQUIRE_BROWSER` is set to anything but "" or "0".
pub fn browser_required() -> bool {
    std::env::var("PASSNUM_REQUIRE_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0")
}

const INSTALL_HINT: &str = "install it with `apt-get install chromium chromium-driver` \
     and `npm ci --prefix e2e` (axe-core)";

/// What a visit saw.
#[derive(Clone, Debug)]
pub struct Page {
    /// The URL once loaded (after any redirect).
    pub url: String,
    /// `document.title`.
    pub title: String,
    /// The PNG kept for this page.
    pub screenshot: PathBuf,
}

/// A headless Chromium behind its own chromedriver. Dropping it ends both.
pub struct Browser {
    // Fields drop in order: the client, then chromedriver, then the turn.
    client: Client,
    driver: Driver,
    /// chromedriver's URL, `http://127.0.0.1:PORT`.
    pub webdriver: String,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// One browser at a time in the test process: the journeys share it with every other test,
/// and two Chromiums on two cores make each one's timings flaky.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// chromedriver, and the temporary folder with Chromium's profile and chromedriver's log.
/// Dropping it ends chromedriver's process group (Chromium with it) and removes the folder,
/// also when the start fails half-way.
struct Driver {
    child: Option<Child>,
    temp: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            kill_group(child);
        }
        let _ = std::fs::remove_dir_all(&self.temp);
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (1280x900).
    ///
    /// None (after saying why) when chromedriver, Chromium or axe-core is missing, unless
    /// `PASSNUM_REQUIRE_BROWSER` is set, which makes that a panic so that CI never skips.
    pub async fn start() -> Option<Browser> {
        let axe = axe_path();
        let axe = axe
            .to_str()
            .unwrap_or("e2e/node_modules/axe-core/axe.min.js");
        for program in [CHROMEDRIVER, CHROMIUM, axe] {
            if !Path::new(program).exists() {
                if browser_required() {
                    panic!(
                        "PASSNUM_REQUIRE_BROWSER is set but {program} is missing: {INSTALL_HINT}"
                    );
                }
                eprintln!(
                    "{program} is missing, so this browser test is skipped: {INSTALL_HINT} \
                     (set PASSNUM_REQUIRE_BROWSER=1 to make this a failure)"
                );
                return None;
            }
        }
        let turn = ONE_BROWSER.lock().await;
        let mut driver = Driver {
            child: None,
            temp: std::env::temp_dir()
                .join("passnum-browser")
                .join(uuid::Uuid::new_v4().simple().to_string()),
        };
        let profile = driver.temp.join("profile");
        std::fs::create_dir_all(&profile)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", profile.display()));

        // A free port can be taken by someone else before chromedriver binds it: try again then.
        let mut failures = Vec::new();
        for attempt in 0..3 {
            let log = driver.temp.join(format!("chromedriver-{attempt}.log"));
            let (child, webdriver) = spawn_chromedriver(&log);
            let child = driver.child.insert(child);
            match wait_until_ready(child, &webdriver).await {
                Ok(()) => {
                    let client = match connect(&webdriver, &profile).await {
                        Ok(client) => client,
                        Err(e) => {
                            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                            panic!(
                                "chromedriver at {webdriver} could not start {CHROMIUM}: {e}\n\
                                 chromedriver's log:\n{log_text}"
                            );
                        }
                    };
                    return Some(Browser {
                        client,
                        driver,
                        webdriver,
                        _turn: turn,
                    });
                }
                Err(e) => {
                    kill_group(child);
                    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                    failures.push(format!("{webdriver}: {e}\n{log_text}"));
                }
            }
        }
        panic!(
            "chromedriver did not start after 3 tries:\n{}",
            failures.join("\n")
        );
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url`, keeps a screenshot named `name` and checks the page with axe-core.
    pub async fn visit(&self, url: &str, name: &str) -> Page {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        self.wait_for_load().await;
        self.check_axe(name).await
    }

    /// Screenshot and axe-core on the page shown now (e.g. one reached by a form); on a phone's
    /// width, also the reading checks of [`Self::assert_reads_on_a_phone`].
    pub async fn check_axe(&self, name: &str) -> Page {
        if self.viewport().await.0 <= PHONE_WIDTH + 80 {
            self.assert_reads_on_a_phone().await;
        }
        let page = self.screenshot(name).await;
        let violations = self.axe_violations().await;
        if !violations.is_empty() {
            panic!(
                "axe-core found {} accessibility violation(s) (WCAG 2.1 AA) on {} ({:?}), \
                 screenshot {}:\n{}",
                violations.len(),
                page.url,
                page.title,
                page.screenshot.display(),
                describe_violations(&violations)
            );
        }
        page
    }

    /// Saves `target/test-artifacts/screenshots/<name>.png` of the whole page shown now (not
    /// only the part in the window).
    pub async fn screenshot(&self, name: &str) -> Page {
        let url = self.current_url().await;
        let png = match self.full_page_png().await {
            Some(png) => png,
            None => self
                .client
                .screenshot()
                .await
                .unwrap_or_else(|e| panic!("cannot take a screenshot of {url}: {e}")),
        };
        let path = screenshots_dir().join(format!("{}.png", file_name(name)));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        let title = self
            .client
            .title()
            .await
            .unwrap_or_else(|e| panic!("cannot read the title of {url}: {e}"));
        Page {
            url,
            title,
            screenshot: path,
        }
    }

    /// The whole page as a PNG, through chromedriver's DevTools endpoint (WebDriver's own
    /// screenshot stops at the window's edge). None if that endpoint fails.
    async fn full_page_png(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let answer = self
            .client
            .issue_cmd(Cdp {
                cmd: "Page.captureScreenshot",
                params: json!({ "format": "png", "captureBeyondViewport": true }),
            })
            .await
            .ok()?;
        let data = answer.get("data")?.as_str()?;
        base64::engine::general_purpose::STANDARD.decode(data).ok()
    }

    /// axe-core's violations on the page shown now (WCAG 2.0/2.1, A and AA), as axe reports them:
    /// objects with `id`, `impact`, `help`, `helpUrl` and `nodes[].target`.
    pub async fn axe_violations(&self) -> Vec<Value> {
        let url = self.current_url().await;
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot run a script on {url}: {e}"));
        if loaded != Value::Bool(true) {
            let path = axe_path();
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read {} ({e}): install axe-core with `npm ci --prefix e2e`",
                    path.display()
                )
            });
            self.client
                .execute(&source, vec![])
                .await
                .unwrap_or_else(|e| panic!("cannot inject axe-core into {url}: {e}"));
        }
        let outcome = self
            .client
            .execute_async(
                r#"
                const [tags, done] = arguments;
                window.axe
                    .run(document, {
                        runOnly: { type: 'tag', values: tags },
                        resultTypes: ['violations'],
                    })
                    .then((r) => done({ violations: r.violations }))
                    .catch((e) => done({ error: String(e && e.stack || e) }));
                "#,
                vec![json!(AXE_TAGS)],
            )
            .await
            .unwrap_or_else(|e| panic!("axe-core did not finish on {url}: {e}"));
        if let Some(error) = outcome.get("error") {
            panic!("axe-core failed on {url}: {error}");
        }
        match outcome.get("violations") {
            Some(Value::Array(v)) => v.clone(),
            _ => panic!("axe-core gave an unexpected answer on {url}: {outcome}"),
        }
    }

    /// Types `value` into the field matched by `css`, after clearing it. Date, time and colour
    /// inputs, whose typing depends on the locale, get their value set directly (with the
    /// `input` and `change` events a person's typing would fire).
    pub async fn fill(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        let kind = element
            .attr("type")
            .await
            .unwrap_or_else(|e| panic!("cannot read {css}'s type: {e}"))
            .unwrap_or_default();
        if matches!(
            kind.as_str(),
            "date" | "time" | "datetime-local" | "month" | "week" | "color" | "range"
        ) {
            self.client
                .execute(
                    "const [el, v] = arguments; el.value = v;
                     el.dispatchEvent(new Event('input', { bubbles: true }));
                     el.dispatchEvent(new Event('change', { bubbles: true }));",
                    vec![json!(element), json!(value)],
                )
                .await
                .unwrap_or_else(|e| panic!("cannot set {css} to {value:?}: {e}"));
            return;
        }
        let cleared = element.clear().await;
        self.or_fail(cleared, format_args!("cannot clear {css}"))
            .await;
        let typed = element.send_keys(value).await;
        self.or_fail(typed, format_args!("cannot type into {css}"))
            .await;
    }

    /// Chooses the `<option>` whose value is `value` in the `<select>` matched by `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        let outcome = self
            .client
            .execute(
                "const [sel, v] = arguments;
                 const options = Array.from(sel.options || []);
                 const option = options.find((o) => o.value === v);
                 if (!option) return options.map((o) => o.value);
                 sel.value = v;
                 sel.dispatchEvent(new Event('input', { bubbles: true }));
                 sel.dispatchEvent(new Event('change', { bubbles: true }));
                 return true;",
                vec![json!(element), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot choose {value:?} in {css}: {e}"));
        if outcome != Value::Bool(true) {
            panic!(
                "{css} on {} has no option with value {value:?}; its values: {outcome}",
                self.url_for_errors().await
            );
        }
    }

    /// Clicks the element matched by `css` (without waiting for any navigation).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let clicked = element.click().await;
        self.or_fail(clicked, format_args!("cannot click {css}"))
            .await;
    }

    /// Clicks the submit button (or link) matched by `css`, then waits until a new page has
    /// loaded, even one at the same URL (a form shown again with its errors).
    pub async fn submit_form(&self, css_of_button: &str) {
        let before = self.current_url().await;
        self.client
            .execute("window.__passnumOldPage = true;", vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot run a script on {before}: {e}"));
        self.click(css_of_button).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self
                .client
                .execute(
                    "return window.__passnumOldPage === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            // Errors are expected while the old page goes away.
            if let Ok(Value::String(s)) = state {
                if s == "complete" {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "clicking {css_of_button} on {before} did not load a new page within {WAIT:?} \
                     (now at {})",
                    self.url_for_errors().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// After the password, as a person with a phone does: sets up the second factor when the
    /// login asks for it (the key read from the page, the recovery codes kept), or types the
    /// code; then their space.
    pub async fn second_factor(&self, app: &super::TestApp, email: &str) {
        let url = self.current_url().await;
        if url.ends_with("/compte/double-authentification") {
            let secret: String = self.text("#totp-secret").await.split_whitespace().collect();
            let code = passnum::users::totp::code_at(&secret, app.now()).expect("code");
            self.fill("#code", &code).await;
            self.submit_form("form[action='/compte/double-authentification'] button[type=submit]")
                .await;
            let source = self.page_source().await;
            let codes: Vec<String> = source
                .split("class=\"code-print\">")
                .skip(1)
                .filter_map(|rest| rest.split('<').next())
                .map(str::to_string)
                .collect();
            assert_eq!(codes.len(), 10, "recovery codes shown once: {source}");
            app.remember_authenticator(email, &secret, codes);
            self.submit_form("#continuer").await;
        } else if url.ends_with("/connexion/code") {
            self.fill("#code", &app.second_factor_code(email)).await;
            self.submit_form("form[action='/connexion/code'] button[type=submit]")
                .await;
        }
    }

    /// Cuts the browser's network (`offline`) or gives it back, through chromedriver's network
    /// conditions (Chromium's own endpoint): the page's requests fail and it reads
    /// `navigator.onLine` false, while the test still talks to chromedriver.
    pub async fn set_offline(&self, offline: bool) {
        let answer = self.client.issue_cmd(NetworkConditions { offline }).await;
        if let Err(e) = answer {
            panic!("chromedriver refused the network conditions (offline: {offline}): {e}");
        }
    }

    /// The visible text of the element matched by `css`.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = element.text().await;
        self.or_fail(text, format_args!("cannot read {css}'s text"))
            .await
    }

    /// Whether an element matches `css` now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("cannot look for {css}: {e}"))
            .is_empty()
    }

    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("cannot read the current URL: {e}"))
            .to_string()
    }

    /// The DOM as it is now, serialised.
    pub async fn page_source(&self) -> String {
        let source = self.client.source().await;
        self.or_fail(source, "cannot read the page source").await
    }

    /// Resizes the window to `width` x `height`, and waits until the page's viewport is `width`
    /// CSS pixels wide (headless Chromium keeps some height for a simulated toolbar, but no
    /// width, so `innerHeight` is smaller than `height`).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("cannot resize the window to {width}x{height}: {e}"));
        let deadline = Instant::now() + WAIT;
        loop {
            let inner = self.viewport().await;
            if inner.0 == width {
                return;
            }
            if Instant::now() > deadline {
                panic!("resized the window to {width}x{height}, but the viewport is {inner:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The window's size, `(width, height)`.
    pub async fn window_size(&self) -> (u32, u32) {
        let (w, h) = self
            .client
            .get_window_size()
            .await
            .unwrap_or_else(|e| panic!("cannot read the window size: {e}"));
        (w as u32, h as u32)
    }

    /// `(window.innerWidth, window.innerHeight)`.
    pub async fn viewport(&self) -> (u32, u32) {
        let v = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot read the viewport: {e}"));
        let n = |i: usize| v[i].as_u64().unwrap_or(0) as u32;
        (n(0), n(1))
    }

    /// At 320 CSS pixels wide (a small phone; WCAG 1.4.10 reflow), the page shown now needs no
    /// horizontal scrolling. The window goes back to its former size afterwards. On failure,
    /// names the elements that stick out.
    pub async fn assert_no_horizontal_scroll(&self) {
        let before = self.window_size().await;
        self.set_window_size(PHONE_WIDTH, before.1).await;
        let v = self
            .client
            .execute(
                "const w = window.innerWidth;
                 const wide = [];
                 const clipped = el => {
                   for (let a = el.parentElement; a; a = a.parentElement)
                     if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true;
                   return false;
                 };
                 for (const el of document.body ? document.body.querySelectorAll('*') : []) {
                   const r = el.getBoundingClientRect();
                   if (r.width > 0 && (r.right > w + 0.5 || r.left < -0.5) && !clipped(el)
                       && !el.classList.contains('skip')) {
                     let d = el.tagName.toLowerCase();
                     if (el.id) d += '#' + el.id;
                     if (typeof el.className === 'string' && el.className.trim())
                       d += '.' + el.className.trim().split(/\\s+/).join('.');
                     wide.push(d + ' [' + Math.round(r.left) + '..' + Math.round(r.right) + ']');
                   }
                 }
                 return [document.documentElement.scrollWidth, w, wide.slice(0, 10)];",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot measure the page: {e}"));
        let scroll_width = v[0].as_u64().unwrap_or(u64::MAX);
        let inner_width = v[1].as_u64().unwrap_or(0);
        if scroll_width > inner_width {
            let url = self.current_url().await;
            let name = format!("{}-{PHONE_WIDTH}px-overflow", file_name(&url));
            let shot = self.screenshot(&name).await.screenshot;
            panic!(
                "{url} scrolls sideways at {inner_width} px wide: scrollWidth is {scroll_width}. \
                 Elements sticking out: {}. Screenshot: {}",
                v[2],
                shot.display()
            );
        }
        self.assert_reads_on_a_phone().await;
        self.set_window_size(before.0, before.1).await;
    }

    /// What a person reads on the narrow window shown now: no word split across two lines
    /// (each word's `Range.getClientRects()` on one line; hyphens may break as in print, and
    /// identifiers over 30 characters, links, e-mail addresses and text styled to wrap anywhere —
    /// tokens, hashes — may wrap), and no table wider than its
    /// place unless it scrolls inside a region the keyboard can reach.
    pub async fn assert_reads_on_a_phone(&self) {
        let v = self
            .client
            .execute(
                "const describe = el => {
                   let d = el.tagName.toLowerCase();
                   if (el.id) d += '#' + el.id;
                   if (typeof el.className === 'string' && el.className.trim())
                     d += '.' + el.className.trim().split(/\\s+/).join('.');
                   return d;
                 };
                 const split = [];
                 const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                 let node;
                 while ((node = walker.nextNode())) {
                   const el = node.parentElement;
                   if (!el || el.closest('script,style,noscript,svg,.visually-hidden,.sr-only,[hidden],option')) continue;
                   const cs = getComputedStyle(el);
                   if (cs.display === 'none' || cs.visibility === 'hidden') continue;
                   // An identifier the page lets wrap anywhere (a token, a hash) is not a word.
                   if (cs.overflowWrap === 'anywhere') continue;
                   const re = /[^\\s\\-\\u2010\\u2011]+/g;
                   let m;
                   while ((m = re.exec(node.textContent))) {
                     if (m[0].length > 30 || /[\\/@]/.test(m[0])) continue;
                     const range = document.createRange();
                     range.setStart(node, m.index);
                     range.setEnd(node, m.index + m[0].length);
                     const tops = new Set([...range.getClientRects()]
                       .filter(r => r.width > 0 && r.height > 0)
                       .map(r => Math.round(r.top)));
                     if (tops.size > 1) split.push('«' + m[0] + '» in ' + describe(el));
                   }
                 }
                 const tables = [];
                 for (const t of document.querySelectorAll('table')) {
                   let c = t;
                   while (c && !['auto', 'scroll'].includes(getComputedStyle(c).overflowX)) c = c.parentElement;
                   const scrolls = c && c.scrollWidth > c.clientWidth + 1;
                   const focusable = c && c.hasAttribute('tabindex') && c.tabIndex >= 0;
                   const out = t.getBoundingClientRect().right > window.innerWidth + 0.5;
                   if ((scrolls && !focusable) || (!c && out)) tables.push(describe(t));
                 }
                 return [split.slice(0, 10), tables.slice(0, 10)];",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot read the page's words: {e}"));
        let none = |i: usize| v[i].as_array().is_none_or(Vec::is_empty);
        if !(none(0) && none(1)) {
            let url = self.current_url().await;
            let width = self.viewport().await.0;
            let name = format!("{}-{width}px-unreadable", file_name(&url));
            let shot = self.screenshot(&name).await.screenshot;
            panic!(
                "{url} at {width} px: words split across lines {}; tables overflowing outside a \
                 focusable scroll region {}. Screenshot: {}",
                v[0],
                v[1],
                shot.display()
            );
        }
    }

    /// Ends the WebDriver session cleanly (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop does the rest.
    }

    /// The first element matching `css`, waiting for it up to [`WAIT`].
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no element matches {css} on {} after {WAIT:?}: {e}",
                self.url_for_errors().await
            ),
        }
    }

    async fn wait_for_load(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self
                .client
                .execute("return document.readyState;", vec![])
                .await;
            if let Ok(Value::String(s)) = &state {
                if s == "complete" {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not finish loading within {WAIT:?} (last state: {state:?})",
                    self.url_for_errors().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value, or a panic saying `what` failed, on which page, and why.
    async fn or_fail<T>(
        &self,
        result: Result<T, fantoccini::error::CmdError>,
        what: impl std::fmt::Display,
    ) -> T {
        match result {
            Ok(value) => value,
            Err(e) => panic!("{what} on {}: {e}", self.url_for_errors().await),
        }
    }

    /// The current URL for an error message, never panicking itself.
    async fn url_for_errors(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("<unknown URL: {e}>"),
        }
    }
}

/// A Chrome DevTools Protocol command, through chromedriver's `goog/cdp/execute` endpoint.
/// (reqwest's `Url` and `Method` are the `url` and `http` types fantoccini's trait names; the
/// URL parse error is reached through `Url`'s `FromStr`.)
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// chromedriver's `POST /session/{id}/chromium/network_conditions`: offline or not, no
/// throttling otherwise.
#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({ "network_conditions": {
            "offline": self.offline,
            "latency": 0,
            "download_throughput": -1,
            "upload_throughput": -1,
        }});
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// Starts chromedriver on a free port, in its own process group so that Chromium, which it
/// starts, can be ended with it.
fn spawn_chromedriver(log: &Path) -> (Child, String) {
    use std::os::unix::process::CommandExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = std::fs::File::create(log)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
    let err = out.try_clone().expect("log file handle");
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
    (driver, format!("http://127.0.0.1:{port}"))
}

/// Waits until chromedriver's `/status` says it is ready.
async fn wait_until_ready(driver: &mut Child, webdriver: &str) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(status)) = driver.try_wait() {
            return Err(format!("chromedriver exited with {status}"));
        }
        if let Ok(resp) = http.get(format!("{webdriver}/status")).send().await {
            if let Ok(body) = resp.json::<Value>().await {
                if body["value"]["ready"] == Value::Bool(true) {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("chromedriver did not answer within {WAIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect(webdriver: &str, profile: &Path) -> Result<Client, String> {
    let (width, height) = DEFAULT_SIZE;
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        "--lang=fr-FR".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": {
            "pageLoad": WAIT.as_millis() as u64,
            "script": SCRIPT_TIMEOUT.as_millis() as u64,
            "implicit": 0,
        },
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            "prefs": { "intl.accept_languages": "fr-FR,fr" },
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    // chromedriver speaks plain HTTP on the loopback: no TLS, so no rustls crypto provider
    // (which is ambiguous in the test build, where both ring and aws-lc-rs are compiled in).
    let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
    let connecting = builder.capabilities(capabilities).connect(webdriver);
    match tokio::time::timeout(Duration::from_secs(30), connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no session within 30 s".into()),
    }
}

/// Ends chromedriver and everything in its process group (Chromium), by its id.
fn kill_group(driver: &mut Child) {
    if matches!(driver.try_wait(), Ok(None)) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = driver.kill();
    }
    let _ = driver.wait();
}

/// A screenshot name made safe for a file name.
fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('_');
    if trimmed.is_empty() {
        "page".into()
    } else {
        trimmed.chars().take(120).collect()
    }
}

/// One paragraph per violation: id, impact, help, and the first target selectors.
pub fn describe_violations(violations: &[Value]) -> String {
    violations
        .iter()
        .map(|v| {
            let nodes = v["nodes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let targets: Vec<String> = nodes
                .iter()
                .take(5)
                .map(|n| n["target"].to_string())
                .collect();
            format!(
                "- {} ({}): {} [{}]\n    {} node(s), first: {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                v["helpUrl"].as_str().unwrap_or(""),
                nodes.len(),
                targets.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

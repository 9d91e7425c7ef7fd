//! The browser harness itself: Chromium starts, reaches the app, axe-core passes a clean page
//! and catches a faulty one, screenshots are kept, and the 320-pixel check works.
//! Skipped without chromedriver unless PASSNUM_REQUIRE_BROWSER=1.

use crate::common;

use common::browser::{artifacts_dir, Browser, PHONE_WIDTH};
use common::{Backend, TestApp};

const ACCESSIBLE: &str = r##"<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Vérifier un pass numérique</title>
  <style>
    body { font-family: sans-serif; margin: 0 auto; max-width: 40rem; padding: 1rem; color: #1e1e1e; background: #fff; }
    label { display: block; margin-bottom: .25rem; }
    input { width: 100%; box-sizing: border-box; padding: .5rem; }
    button { margin-top: .5rem; padding: .5rem 1rem; background: #000091; color: #fff; border: 0; }
  </style>
</head>
<body>
  <main>
    <h1>Vérifier un pass numérique</h1>
    <form action="#" method="get">
      <label for="code">Code du chèque</label>
      <input id="code" name="code" type="text" autocomplete="off">
      <button type="submit">Vérifier</button>
    </form>
  </main>
</body>
</html>
"##;

/// An image without alt text (WCAG 1.1.1), and a block 600 px wide that overflows on a phone.
const FAULTY: &str = r#"<!doctype html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Page fautive</title>
</head>
<body>
  <main>
    <h1>Page fautive</h1>
    <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="10" height="10">
    <div id="too-wide" style="width: 600px">Trop large pour un téléphone</div>
  </main>
</body>
</html>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_harness_works() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");

    // The browser reaches the app over plain HTTP.
    browser
        .client()
        .goto(&format!("{}/healthz", app.base))
        .await
        .expect("open /healthz");
    let source = browser.page_source().await;
    assert!(source.contains("\"ok\""), "/healthz in Chromium: {source}");

    // A clean page: no violation, a screenshot, and no sideways scrolling at 320 px.
    let dir = artifacts_dir();
    let accessible = dir.join("fixture.html");
    std::fs::write(&accessible, ACCESSIBLE).expect("write fixture");
    let url = format!("file://{}", accessible.display());
    let page = browser.visit(&url, "browser-smoke-accessible").await;
    assert_eq!(page.title, "Vérifier un pass numérique");
    let png = std::fs::read(&page.screenshot).expect("screenshot kept");
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is a PNG",
        page.screenshot.display()
    );
    assert_eq!(browser.text("h1").await, "Vérifier un pass numérique");
    browser.assert_no_horizontal_scroll().await;
    assert_eq!(browser.window_size().await, (1280, 900), "size restored");
    assert_eq!(browser.viewport().await.0, 1280);

    // Form helpers: typing, then a submission that loads a new page.
    browser.fill("#code", "ABCD-EFGH").await;
    browser.submit_form("button[type=submit]").await;
    assert!(
        browser.current_url().await.contains("code=ABCD-EFGH"),
        "the form was submitted: {}",
        browser.current_url().await
    );
    browser.check_axe("browser-smoke-submitted").await;

    // Screenshots show the whole page, beyond the window's height.
    let tall = dir.join("fixture-tall.html");
    std::fs::write(
        &tall,
        ACCESSIBLE.replace("</main>", "<p style=\"margin-top: 2000px\">Fin</p></main>"),
    )
    .expect("write fixture");
    browser
        .client()
        .goto(&format!("file://{}", tall.display()))
        .await
        .expect("open the tall fixture");
    let shot = browser.screenshot("browser-smoke-tall").await.screenshot;
    let png = std::fs::read(&shot).expect("screenshot kept");
    let height = u32::from_be_bytes(png[20..24].try_into().expect("PNG header"));
    assert!(height > 2000, "{} is {height} px high", shot.display());

    // A faulty page: axe names the image without alt text, and visit() would fail on it.
    let faulty = dir.join("fixture-faulty.html");
    std::fs::write(&faulty, FAULTY).expect("write fixture");
    browser
        .client()
        .goto(&format!("file://{}", faulty.display()))
        .await
        .expect("open the faulty fixture");
    let violations = browser.axe_violations().await;
    let ids: Vec<&str> = violations.iter().filter_map(|v| v["id"].as_str()).collect();
    assert!(ids.contains(&"image-alt"), "violations found: {ids:?}");

    // ...and the 320-px check catches the block that is too wide.
    browser.set_window_size(PHONE_WIDTH, 900).await;
    let scroll_width = browser
        .client()
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .expect("measure");
    assert!(
        scroll_width.as_u64().unwrap_or(0) > u64::from(PHONE_WIDTH),
        "{scroll_width}"
    );

    // visit() itself fails on such a page, naming the rule.
    let faulty_url = format!("file://{}", faulty.display());
    let visiting = tokio::spawn(async move {
        browser.visit(&faulty_url, "browser-smoke-faulty").await;
    });
    let failure = visiting
        .await
        .expect_err("visit() accepts a page with a violation");
    let payload = failure.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("image-alt"), "visit()'s panic: {message}");
    assert!(
        message.contains("fixture-faulty.html"),
        "names the URL: {message}"
    );
}

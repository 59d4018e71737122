// The EmpirioLabs view in Airflow's UI, in Debian's headless Chromium (Playwright's driver, no
// browser download): what a person sees, printed as one JSON object on stdout. test_ui_view.py
// holds the assertions; this script only looks, plays, clicks and takes screenshots.
//
// Usage: node ui_view_check.mjs '<json>' with
//   url: Airflow's base URL; token: a JWT set as the UI's `_token` cookie (what the login does)
//   dagId, runId, taskId: the finished text-to-video run; linkName: the operator link's name
//   shots: folder for the PNGs
import { launch, signedInPage, TIMEOUT } from "./browser.mjs";

const args = JSON.parse(process.argv[2]);

const browser = await launch(["--autoplay-policy=no-user-gesture-required"]);

// Every body the browser received from the view (pages and JSON; not the video bytes), so the
// test can check that no credential ever reached it.
const received = [];
function recordBodies(page) {
  page.on("response", async (response) => {
    const url = response.url();
    if (!url.includes("/empiriolabs/") || url.includes("/empiriolabs/media/")) return;
    try {
      received.push({ url, status: response.status(), body: await response.text() });
    } catch {
      // a navigation away can drop a body: nothing to check then
    }
  });
}

// The first video of a frame: decoded size, and whether it plays (currentTime advances).
async function watchVideo(frame) {
  const video = frame.locator("video").first();
  await video.waitFor();
  await frame.waitForFunction(
    () => {
      const v = document.querySelector("video");
      return v && v.readyState >= 2 && v.videoWidth > 0;
    },
    null,
    { timeout: TIMEOUT },
  );
  await video.evaluate((v) => v.play().catch(() => undefined));
  const first = await video.evaluate((v) => v.currentTime);
  await frame.waitForFunction((t0) => document.querySelector("video").currentTime > t0, first, {
    timeout: TIMEOUT,
  });
  return video.evaluate((v) => ({
    src: v.getAttribute("src"),
    width: v.videoWidth,
    height: v.videoHeight,
    currentTime: v.currentTime,
    paused: v.paused,
    error: v.error ? v.error.code : null,
  }));
}

async function cardFields(frame) {
  return frame.locator("section.card").first().evaluate((card) => {
    const fields = {};
    for (const row of card.querySelectorAll("tr")) {
      fields[row.querySelector("th").innerText.trim()] = row.querySelector("td").innerText.trim();
    }
    return fields;
  });
}

async function pluginFrame(page) {
  const handle = await page.waitForSelector('iframe[src*="empiriolabs/"]');
  const frame = await handle.contentFrame();
  await frame.waitForLoadState("domcontentloaded");
  return frame;
}

async function runTab(page) {
  const run = encodeURIComponent(args.runId);
  await page.goto(`${args.url}/dags/${args.dagId}/runs/${run}`);
  await page.getByRole("tab", { name: "EmpirioLabs", exact: true }).or(
    page.getByRole("link", { name: "EmpirioLabs", exact: true }),
  ).first().click();
  const frame = await pluginFrame(page);
  const video = await watchVideo(frame);
  const fields = await cardFields(frame);
  await page.waitForTimeout(300); // let the frame paint what the video decoded
  await page.screenshot({ path: `${args.shots}/run-view.png` });
  await frame.locator("video").first().screenshot({ path: `${args.shots}/video-frame.png` });
  return { url: page.url(), iframe: frame.url(), video, fields };
}

async function spend(page) {
  await page.goto(`${args.url}/plugin/empiriolabs-spend`);
  const frame = await pluginFrame(page);
  const chart = frame.locator("svg#spend-chart");
  await chart.waitFor();
  const bars = await chart.locator("rect.day-bar").evaluateAll((rects) =>
    rects.map((r) => ({ label: r.dataset.label, usd: Number(r.dataset.usd), height: Number(r.getAttribute("height")) })),
  );
  const total = await frame.locator("#total").innerText();
  const balance = await frame.locator("#balance").innerText();
  const perDag = await frame.locator("#per-dag tr").evaluateAll((rows) =>
    rows.map((r) => ({ dagId: r.dataset.dagId, usd: r.children[1].innerText.trim() })),
  );
  await page.screenshot({ path: `${args.shots}/spend.png` });
  return { url: page.url(), bars, total, balance, perDag };
}

async function button(page) {
  // The task's "EmpirioLabs job" button: it opens the view inside Airflow's UI (the task
  // instance's page, the plugin's tab), so the view is framed by Airflow's navigation.
  const run = encodeURIComponent(args.runId);
  await page.goto(`${args.url}/dags/${args.dagId}/runs/${run}/tasks/${args.taskId}`);
  await page.getByRole("link", { name: "Details", exact: true }).click();
  const link = page.getByRole("link", { name: args.linkName, exact: true });
  await link.waitFor();
  const href = await link.getAttribute("href");
  const target = await link.getAttribute("target");
  let landed;
  if (target === "_blank") {
    const [popup] = await Promise.all([page.waitForEvent("popup"), link.click()]);
    recordBodies(popup);
    await popup.waitForLoadState("domcontentloaded");
    landed = popup;
  } else {
    await Promise.all([page.waitForURL((u) => u.pathname.includes("/plugin/")), link.click()]);
    landed = page;
  }
  await landed.setViewportSize({ width: 1400, height: 900 });
  const frame = await pluginFrame(landed);
  const video = await watchVideo(frame);
  const heading = await frame.locator("h1").innerText();
  const navigation = await landed.locator("nav").count();
  await landed.waitForTimeout(300);
  await landed.screenshot({ path: `${args.shots}/job-button-view.png` });
  return { href, target, opened: landed.url(), heading, video, navigation, iframe: frame.url() };
}

async function anonymous() {
  // A browser that never signed in: the view's pages, JSON and video answer nothing.
  const context = await browser.newContext();
  const page = await context.newPage();
  const run = encodeURIComponent(args.runId);
  const paths = [
    `/empiriolabs/runs/${args.dagId}/${run}`,
    `/empiriolabs/api/runs/${args.dagId}/${run}`,
    `/empiriolabs/media/${args.dagId}/${run}/${args.taskId}/-1/0`,
    `/empiriolabs/spend`,
    `/empiriolabs/api/spend`,
  ];
  const answers = [];
  for (const path of paths) {
    const response = await page.goto(`${args.url}${path}`);
    answers.push({ path, status: response.status(), body: (await response.text()).slice(0, 500) });
  }
  await context.close();
  return answers;
}

try {
  const page = await signedInPage(browser, args, { width: 1400, height: 900 });
  recordBodies(page);
  const result = {
    runTab: await runTab(page),
    spend: await spend(page),
    button: await button(page),
    anonymous: await anonymous(),
  };
  process.stdout.write(JSON.stringify({ ...result, received }) + "\n");
} finally {
  await browser.close();
}

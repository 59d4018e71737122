// Answers one human-in-the-loop review of the approval example DAG in Airflow's own UI, as a person
// would: open the task's "Required Actions" tab, read the form, type a note, click an option, and
// wait for the UI to confirm. Prints what it saw as one JSON object on stdout; the assertions live in
// test_approval_ui.py. The browser: browser.mjs (Debian's Chromium, Playwright's driver).
//
// Usage: node approval_check.mjs '<json>' where json has
//   url: Airflow's base URL; token: a JWT for the UI (set as the `_token` cookie, as the login does)
//   dagId, runId, taskId: the waiting review task
//   option: the button to click ("Approve" or "Reject"); note: text for the note field ("" for none)
//   screenshot: PNG of the form as it opened; noteScreenshot: PNG with the note typed (optional)
//   answeredScreenshot: PNG after the click (optional)
//   watchScreenshot: PNG of the EmpirioLabs view the body links to, the video loaded (optional)
import { launch, signedInPage } from "./browser.mjs";

const args = JSON.parse(process.argv[2]);

const browser = await launch();

async function review(page) {
  const run = encodeURIComponent(args.runId);
  await page.goto(`${args.url}/dags/${args.dagId}/runs/${run}/tasks/${args.taskId}/required_actions`);
  const option = page.getByRole("button", { name: args.option, exact: true });
  await option.waitFor();
  // The form: the subject, the Markdown body as rendered, the note field and the options offered.
  const note = page.locator('input[name="element_note"]');
  await note.waitFor();
  const panel = page.locator("main, body").first();
  const text = await panel.innerText();
  const subject = await page.getByText(/^Publish this video\?/u).first().innerText();
  const options = [];
  for (const name of ["Approve", "Reject"]) {
    const button = page.getByRole("button", { name, exact: true });
    if ((await button.count()) > 0) options.push({ name, enabled: await button.isEnabled() });
  }
  await page.screenshot({ path: args.screenshot });
  // The body's link to the provider's EmpirioLabs view of the round's video: follow it, as a
  // reviewer would before deciding, and see the video decode there.
  const watchLink = page.getByRole("link", { name: "in the EmpirioLabs view" }).first();
  const watchHref = (await watchLink.count()) > 0 ? await watchLink.getAttribute("href") : null;
  let watched = null;
  if (args.watchScreenshot && watchHref) {
    const viewer = await page.context().newPage();
    await viewer.goto(new URL(watchHref, args.url).href);
    const video = viewer.locator("video").first();
    await video.waitFor();
    await viewer.waitForFunction(() => {
      const v = document.querySelector("video");
      return v && v.readyState >= 2 && v.videoWidth > 0;
    });
    watched = await video.evaluate((v) => ({ width: v.videoWidth, height: v.videoHeight, duration: v.duration }));
    await viewer.screenshot({ path: args.watchScreenshot });
    await viewer.close();
  }
  if (args.note) {
    await note.fill(args.note);
    if (args.noteScreenshot) await page.screenshot({ path: args.noteScreenshot });
  }
  const enabledBeforeClick = await option.isEnabled();
  await option.click();
  // The UI says so when the response was recorded (a toast: "<task> response successful").
  const confirmation = page.getByText(`${args.taskId} response successful`).first();
  await confirmation.waitFor();
  const confirmed = await confirmation.innerText();
  if (args.answeredScreenshot) await page.screenshot({ path: args.answeredScreenshot });
  return { subject, text, options, watchHref, watched, enabledBeforeClick, confirmed };
}

try {
  const page = await signedInPage(browser, args, { width: 1400, height: 1000 });
  const result = await review(page);
  process.stdout.write(JSON.stringify({ url: page.url(), ...result }) + "\n");
} finally {
  await browser.close();
}

// The EmpirioLabs view of one run, in Debian's headless Chromium: which jobs it shows and what it
// says they cost, printed as one JSON object on stdout (test_approval_ui.py holds the assertions).
//
// Usage: node view_count_check.mjs '<json>' with url, token, dagId, runId.
import { launch, signedInPage } from "./browser.mjs";

const args = JSON.parse(process.argv[2]);
const browser = await launch();
try {
  const page = await signedInPage(browser, args);
  await page.goto(`${args.url}/empiriolabs/runs/${args.dagId}/${encodeURIComponent(args.runId)}`);
  await page.locator("section.card").first().waitFor();
  const jobIds = await page.locator("section.card").evaluateAll((cards) => cards.map((c) => c.dataset.jobId));
  const summary = await page.locator("p.muted", { hasText: "job(s), actual cost" }).first().innerText();
  console.log(JSON.stringify({ jobIds, summary }));
} finally {
  await browser.close();
}

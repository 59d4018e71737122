// Drives Debian's headless Chromium through Airflow's UI with Playwright's driver (playwright-core:
// no browser download) and prints what a person would see, as one JSON object on stdout. The
// assertions live in test_ui.py; this script only looks, clicks and takes screenshots.
//
// Usage: node ui_check.mjs '<json>' where json has
//   check: "connection-form" | "extra-link"
//   url: Airflow's base URL; token: a JWT for the UI (set as the `_token` cookie, as the login does)
//   screenshot: PNG path to write (connection-form: the standard fields; extrasScreenshot: the extras)
//   connectionType (connection-form): the connection type's display name
//   dagId, runId, taskId, linkName (extra-link)
import { launch, signedInPage } from "./browser.mjs";

const args = JSON.parse(process.argv[2]);

const browser = await launch();

async function connectionForm(page) {
  await page.goto(`${args.url}/connections`);
  await page.getByRole("button", { name: "Add Connection" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Connection ID").fill("empiriolabs_default");
  await dialog.getByRole("combobox", { name: "Connection Type" }).fill(args.connectionType);
  await page.getByRole("option", { name: args.connectionType, exact: true }).click();
  // The provider's fields appear once the type is chosen, in the "Standard Fields" section.
  await dialog.locator('input[name="password"]').waitFor();
  // Every visible field: its label, the input it labels, and that input's help text.
  const visibleFields = () =>
    dialog.locator("label[for]").evaluateAll((labels) =>
      labels
        .filter((label) => label.offsetParent !== null)
        .map((label) => {
          const input = document.getElementById(label.htmlFor);
          const helpId = input ? input.getAttribute("aria-describedby") : null;
          const help = helpId ? document.getElementById(helpId) : null;
          return {
            label: label.innerText.replace("*", "").trim(),
            name: input ? input.getAttribute("name") : null,
            type: input ? input.getAttribute("type") : null,
            placeholder: input ? input.getAttribute("placeholder") : null,
            help: help ? help.innerText.trim() : null,
            group: label.closest('[role="group"]').innerText.trim(),
          };
        }),
    );
  const standard = await visibleFields();
  const selectedType = standard.find((f) => f.label === "Connection Type")?.group ?? null;
  await dialog.screenshot({ path: args.screenshot });
  // One section is open at a time: opening the extras closes the standard fields.
  await dialog.getByRole("button", { name: "Extra Fields", exact: true }).click();
  await dialog.locator('input[name="password"]').waitFor({ state: "hidden" });
  await dialog.locator('input[name^="element_"]').first().waitFor();
  const extras = await visibleFields();
  // Every extra field's input by its name (a label's "for" does not reach every kind of input).
  const extraInputs = await dialog.locator('[name^="element_"]').evaluateAll((inputs) =>
    inputs.map((input) => ({
      name: input.getAttribute("name"),
      type: input.getAttribute("type"),
      placeholder: input.getAttribute("placeholder"),
      group: (input.closest('[role="group"]') ?? input.parentElement).innerText.trim(),
    })),
  );
  await dialog.screenshot({ path: args.extrasScreenshot });
  return { selectedType, standard, extras, extraInputs };
}

async function extraLink(page) {
  const run = encodeURIComponent(args.runId);
  await page.goto(`${args.url}/dags/${args.dagId}/runs/${run}/tasks/${args.taskId}`);
  await page.getByRole("link", { name: "Details", exact: true }).click();
  const link = page.getByRole("link", { name: args.linkName, exact: true });
  await link.waitFor();
  const href = await link.getAttribute("href");
  const target = await link.getAttribute("target");
  const heading = await page.getByText("Extra Links").first().innerText();
  await page.screenshot({ path: args.screenshot });
  // Follow it as a person would: where does the click land?
  let opened;
  if (target === "_blank") {
    const [popup] = await Promise.all([page.waitForEvent("popup"), link.click()]);
    await popup.waitForLoadState("domcontentloaded");
    opened = popup.url();
  } else {
    // Same origin (the provider's view, in Airflow's UI) or not: wherever it lands off the task page.
    await Promise.all([
      page.waitForURL((u) => !u.pathname.startsWith("/dags/") || u.pathname.includes("/plugin/")),
      link.click(),
    ]);
    opened = page.url();
  }
  return { heading, href, target, opened };
}

try {
  const page = await signedInPage(browser, args, { width: 1400, height: 900 });
  const checks = { "connection-form": connectionForm, "extra-link": extraLink };
  const result = await checks[args.check](page);
  process.stdout.write(JSON.stringify({ check: args.check, url: page.url(), ...result }) + "\n");
} finally {
  await browser.close();
}

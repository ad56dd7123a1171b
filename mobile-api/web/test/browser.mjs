// The browser tests of the console, the portal and the phone app (its
// scenarios are in phone.mjs): real Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core, against the real server
// that TestWebFrontEnds (backend/cmd/suiji/web_test.go) starts with the
// demo data. One browser serves every scenario; each scenario gets a fresh
// context (no shared storage). Scenarios run in order and build on each
// other (a plan drafted, then approved, committed, drawn, verified).
//
// Environment: SUIJI_WEB_BASE (server URL), SUIJI_WEB_PASSWORD (the demo
// users' password), SUIJI_WEB_FIXTURES (files to upload),
// SUIJI_WEB_SCREENSHOTS (where to save the main screens; empty: nowhere),
// SUIJI_WEB_ONLY (a regular expression: run only the scenarios it matches,
// while working on them).
// Exit status 0 only when every scenario passed; the last line is
// "N passed, N failed".
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { registerPhoneScenarios, apiAs } from './phone.mjs';

const base = process.env.SUIJI_WEB_BASE;
const password = process.env.SUIJI_WEB_PASSWORD;
const adminPassword = process.env.SUIJI_WEB_ADMIN_PASSWORD; // the first admin ("admin")
const fixtures = process.env.SUIJI_WEB_FIXTURES;
const shots = process.env.SUIJI_WEB_SCREENSHOTS || '';
if (!base || !password || !adminPassword || !fixtures) {
  console.error('set SUIJI_WEB_BASE, SUIJI_WEB_PASSWORD, SUIJI_WEB_ADMIN_PASSWORD and SUIJI_WEB_FIXTURES (TestWebFrontEnds does)');
  process.exit(2);
}
if (shots) mkdirSync(shots, { recursive: true });

// The flags this machine needs: without the background-networking ones
// Chromium's own connections to the outside are refused, many at a time.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const state = {}; // what one scenario leaves for the next
const scenarios = [];

// expectCount waits (up to 10 s) until locator matches n elements.
async function expectCount(locator, n, what) {
  const until = Date.now() + 10_000;
  let count;
  while ((count = await locator.count()) !== n && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.equal(count, n, what);
}
const scenario = (name, fn, options = {}) => scenarios.push({ name, fn, options });

// shot saves the screen as name.png, scrolled to the top, or to show the
// element at (a locator) when given.
async function shot(page, name, at) {
  if (!shots) return;
  if (at) await at.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function signIn(page, username, pass = password) {
  await page.goto(`${base}/console/`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(pass);
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('button', { name: '退出' }).waitFor();
}

// poolSize reads the live pool figure of the plan form.
async function poolSize(page) {
  const text = await page.locator('#pool-size').textContent();
  const m = /抽取池：(\d+) 家/.exec(text);
  return m ? Number(m[1]) : null;
}

scenario('a coordinator imports an enterprise file with one bad row and sees it named; nothing is stored until the good rows are chosen', async (page) => {
  await signIn(page, 'coordinator');
  await page.getByRole('heading', { name: '监管对象名录库' }).waitFor();
  await page.getByRole('button', { name: '导入' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('选择文件（CSV 或 Excel）').setInputFiles(join(fixtures, 'enterprises.csv'));
  await dialog.getByRole('button', { name: '上传并检查' }).click();
  await dialog.getByText('文件中有 1 行有误，未导入任何数据').waitFor();
  const rows = dialog.locator('table.rejected tbody tr');
  assert.equal(await rows.count(), 1, 'exactly the one bad row is listed');
  const cells = await rows.first().locator('td').allTextContents();
  assert.equal(cells[0], '3', 'the bad row is line 3');
  assert.equal(cells[1], '统一社会信用代码', 'the column is named as in the file');
  assert.match(cells[2], /\S/, 'a reason is given');
  await shot(page, 'console-import');

  // Nothing was stored: the good rows are not in the directory yet.
  await dialog.getByRole('button', { name: '关闭' }).click();
  await page.getByLabel('搜索').fill('浏览器测试');
  await page.getByText('没有记录。').waitFor();

  // Choosing to import only the good rows stores those two.
  await page.getByRole('button', { name: '导入' }).click();
  await dialog.getByLabel('选择文件（CSV 或 Excel）').setInputFiles(join(fixtures, 'enterprises.csv'));
  await dialog.getByRole('button', { name: '上传并检查' }).click();
  await dialog.getByRole('button', { name: '仅导入无误的 2 行' }).click();
  await dialog.getByText('已导入无误的行：新增 2 条').waitFor();
  await dialog.getByRole('button', { name: '关闭' }).click();
  await page.getByLabel('搜索').fill('浏览器测试');
  await page.getByText('浏览器测试化工有限公司').waitFor();
  await page.getByText('浏览器测试机械厂').waitFor();
  assert.equal(await page.getByText('校验位错误的企业').count(), 0);

  // Editing keeps versions: the dialog shows the version, a save makes the next.
  await page.getByRole('row', { name: /浏览器测试机械厂/ }).getByRole('button', { name: '编辑' }).click();
  const edit = page.getByRole('dialog', { name: /浏览器测试机械厂 · 版本 1/ });
  await edit.getByLabel('行业').fill('通用设备制造业');
  await edit.getByRole('button', { name: '保存' }).click();
  await edit.getByText('已保存。 版本 2').waitFor();
  await edit.getByRole('button', { name: '关闭' }).click();
  await page.getByRole('row', { name: /浏览器测试机械厂.*通用设备制造业/ }).waitFor();
  await page.getByRole('row', { name: /浏览器测试机械厂/ }).getByRole('button', { name: '编辑' }).click();
  const again = page.getByRole('dialog', { name: /浏览器测试机械厂 · 版本 2/ });
  await again.getByText('通用设备制造业').last().waitFor();
  await again.getByRole('button', { name: '关闭' }).click();
  await page.getByLabel('搜索').fill('');
  await page.getByText('超过12个月未核查').first().waitFor();
  await shot(page, 'console-enterprises');
});

scenario('a coordinator registers a partner agency and renames it; its versions keep the old name', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/departments`);
  await page.getByRole('heading', { name: '股室与协同部门' }).waitFor();
  await page.getByLabel('名称').fill('泽州县交通局');
  await page.getByLabel('类型').selectOption('external');
  await page.getByRole('button', { name: '新增' }).click();
  const row = page.getByRole('row', { name: /泽州县交通局/ });
  await row.getByText('协同部门').waitFor();
  await row.getByRole('button', { name: '编辑' }).click();
  const dialog = page.getByRole('dialog', { name: /泽州县交通局 · 版本 1/ });
  await dialog.getByLabel('名称').fill('泽州县交通运输局');
  await dialog.getByRole('button', { name: '保存' }).click();
  await page.getByRole('row', { name: /泽州县交通运输局/ }).getByRole('button', { name: '编辑' }).click();
  const again = page.getByRole('dialog', { name: /泽州县交通运输局 · 版本 2/ });
  await again.getByText('泽州县交通局').first().waitFor(); // the first version, in the versions list
  await shot(page, 'console-department-versions');
  await again.getByRole('button', { name: '关闭' }).click();
  // A staff member sees the list, not the form.
  await page.getByRole('button', { name: '退出' }).click();
  await signIn(page, 'hazchem.staff');
  await page.goto(`${base}/console/#/departments`);
  await page.getByRole('row', { name: /泽州县交通运输局/ }).waitFor();
  assert.equal(await page.getByRole('button', { name: '新增' }).count(), 0);
});

scenario('an admin adds an account, changes its roles and disables it; the disabled account cannot sign in', async (page) => {
  await signIn(page, 'admin', adminPassword);
  await page.getByRole('link', { name: '用户与角色' }).click();
  await page.getByRole('heading', { name: '用户与角色' }).waitFor();
  await page.getByRole('button', { name: '新建用户' }).click();
  const create = page.getByRole('dialog', { name: '新建用户' });
  await create.getByLabel('用户名').fill('browser.clerk');
  await create.getByLabel('姓名').fill('浏览器测试科员');
  await create.getByLabel('初始密码').fill('short');
  await create.getByLabel('股室人员').check();
  await create.getByLabel('所属部门').selectOption({ label: '危险化学品安全监督管理股' });
  await create.getByRole('button', { name: '保存' }).click();
  await create.getByText(/password/).waitFor(); // too short: named, nothing stored
  await create.getByLabel('初始密码').fill('clerk-password-2026');
  await create.getByRole('button', { name: '保存' }).click();
  await page.getByLabel('搜索').fill('browser.clerk');
  const row = page.getByRole('row', { name: /browser\.clerk.*股室人员.*危险化学品安全监督管理股.*正常/ });
  await row.waitFor();
  await shot(page, 'console-users');

  // The new account signs in and sees the console as staff.
  const clerkContext = await page.context().browser().newContext();
  try {
    const clerk = await clerkContext.newPage();
    await signIn(clerk, 'browser.clerk', 'clerk-password-2026');
    await clerk.getByRole('link', { name: '检查任务' }).waitFor();
    assert.equal(await clerk.getByRole('link', { name: '用户与角色' }).count(), 0, 'only admins manage accounts');
    await disableClerk();
    // Its open session has ended: a reload finds no session to resume.
    await clerk.reload();
    await clerk.getByLabel('用户名').waitFor();
    assert.equal(await clerk.getByRole('button', { name: '退出' }).count(), 0);
  } finally {
    await clerkContext.close();
  }
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'browser.clerk', password: 'clerk-password-2026' }),
  });
  assert.equal(login.status, 401, 'a disabled account cannot sign in');
  // On the sign-in form the refusal is said, and the form stays.
  const tryContext = await page.context().browser().newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  try {
    const tryPage = await tryContext.newPage();
    await tryPage.goto(`${base}/console/`);
    await tryPage.getByLabel('用户名').fill('browser.clerk');
    await tryPage.getByLabel('密码').fill('clerk-password-2026');
    await tryPage.getByRole('button', { name: '登录' }).click();
    await tryPage.getByText('用户名或密码不正确').waitFor();
    assert.equal(await tryPage.getByLabel('用户名').inputValue(), 'browser.clerk', 'the form stays as it was filled');
  } finally {
    await tryContext.close();
  }

  // Disabled, with one more role (the admin's dialog; the admin's own
  // row offers only the name).
  async function disableClerk() {
    await row.getByRole('button', { name: '编辑' }).click();
    const edit = page.getByRole('dialog', { name: /browser\.clerk/ });
    await edit.getByLabel('局领导').check();
    await edit.getByLabel('停用此账号').check();
    await edit.getByRole('button', { name: '保存' }).click();
    await edit.getByText('已保存').waitFor();
    await edit.getByRole('button', { name: '关闭' }).click();
    await page.getByRole('row', { name: /browser\.clerk.*股室人员、局领导.*已停用/ }).waitFor();
  }
  await page.getByLabel('搜索').fill('admin');
  await page.getByRole('row', { name: /^admin/ }).getByRole('button', { name: '编辑' }).click();
  const own = page.getByRole('dialog', { name: /^admin/ });
  await own.getByText('自己的角色、部门和状态须由另一名管理员更改').waitFor();
  assert.equal(await own.getByLabel('停用此账号').count(), 0, 'no own status to change');
  await own.getByRole('button', { name: '关闭' }).click();
});

scenario('a coordinator records a targeted check from a complaint, naming its group, and cancels it before it begins', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/tasks`);
  await page.getByRole('button', { name: '新建非随机检查任务' }).click();
  const form = page.getByRole('dialog', { name: '新建非随机检查任务' });
  await form.getByLabel('来源').selectOption('complaint');
  await form.getByLabel('事由').fill('群众举报：夜间违规动火作业');
  await form.getByLabel(/查找检查对象/).fill('浏览器测试机械厂');
  const found = form.locator('option', { hasText: '浏览器测试机械厂' });
  await found.waitFor({ state: 'attached' });
  await form.getByLabel('检查对象', { exact: true }).selectOption(await found.getAttribute('value'));
  await form.getByLabel(/AQ-005/).check();
  await form.getByLabel('检查结束日期').fill(`${new Date().getFullYear()}-12-31`);
  await form.getByRole('button', { name: '保存' }).click();
  await form.getByText(/请检查：检查组成员.*badge_nos/).waitFor(); // no group named: refused, naming it
  await shot(page, 'console-targeted-refused', form.getByText(/badge_nos/));
  const brigade = form.getByLabel(/应急管理综合行政执法大队/);
  await brigade.nth(0).check();
  // Any inspector of the roster is found by name or badge number (the
  // list shows the first ones only), and one chosen stays chosen — at the
  // top, checked — whatever is searched next.
  const third = (await brigade.nth(2).evaluate((box) => box.closest('label').textContent)).match(/（([^）]+)）/)[1];
  await form.getByLabel('查找执法人员（姓名或执法证号）').fill(third);
  await form.locator('.checks label', { hasText: third }).waitFor();
  const group = form.locator('fieldset').filter({ hasText: '检查组（执法人员）' });
  await expectCount(group.locator('.checks label'), 2, 'the one chosen and the one found');
  await form.getByLabel(new RegExp(third)).check();
  await form.getByLabel('查找执法人员（姓名或执法证号）').fill('');
  await expectCount(group.locator('.checks input:checked'), 2, 'both chosen stay chosen');
  await group.locator('.checks label').nth(2).waitFor(); // the first ones are listed again
  assert.ok((await group.locator('.checks label').nth(1).textContent()).includes(third), 'the chosen come first');
  await form.getByRole('button', { name: '保存' }).click();
  await page.getByText('非随机（定向）（群众举报：夜间违规动火作业）').waitFor();
  await shot(page, 'console-task-targeted');
  await page.getByLabel('取消原因').fill('浏览器测试：举报人撤回');
  await page.getByRole('button', { name: '取消任务' }).click();
  await page.locator('#task-state', { hasText: '已取消' }).waitFor();
  await page.locator('#task-cancellation', { hasText: '浏览器测试：举报人撤回' }).waitFor();
  await shot(page, 'console-task-cancelled');
  assert.equal(await page.getByRole('button', { name: '取消任务' }).count(), 0, 'nothing more to cancel');
});

scenario('a coordinator enters holidays of a year the calendar does not know yet; they show as the bureau\'s', async (page) => {
  await signIn(page, 'coordinator');
  await page.getByRole('link', { name: '工作日历' }).click();
  await page.getByRole('heading', { name: /工作日历/ }).waitFor();
  await page.getByRole('cell', { name: '国务院安排' }).first().waitFor(); // next year's statutory schedule
  const year = page.getByLabel('年度');
  await year.fill('2028');
  await year.press('Tab');
  await page.locator('#calendar-uncovered', { hasText: '2028' }).waitFor();
  await page.getByLabel('类型').selectOption('holiday');
  await page.getByLabel('名称').fill('元旦');
  await page.getByLabel('起始日期').fill('2028-01-01');
  await page.getByLabel(/截止日期/).fill('2028-01-03');
  await page.getByRole('button', { name: '录入' }).click();
  await page.getByText('已录入 3 天。').waitFor();
  await page.getByRole('row', { name: /2028-01-03.*放假.*元旦.*本局录入/ }).waitFor();
  // One holiday does not make the year known: whose entries they are, and what else to enter, is said.
  await page.locator('#calendar-uncovered', { hasText: '只有本局录入的 3 项' }).waitFor();
  await shot(page, 'console-calendar');
});

scenario('a coordinator drafts a plan and watches the pool size change with the filter', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/plans/new`);
  await page.getByRole('heading', { name: '新建抽查计划' }).waitFor();
  await page.locator('#pool-size', { hasText: '抽取池：' }).waitFor();
  const everyone = await poolSize(page);
  assert.ok(everyone > 200, `the whole (active) directory is the pool at first (${everyone})`);

  await page.getByLabel('巴公镇', { exact: true }).check();
  await page.waitForFunction((n) => {
    const m = /抽取池：(\d+) 家/.exec(document.querySelector('#pool-size')?.textContent ?? '');
    return m && Number(m[1]) !== n;
  }, everyone);
  const oneTown = await poolSize(page);
  assert.ok(oneTown > 0 && oneTown < everyone, `one town's pool (${oneTown}) is smaller than all (${everyone})`);

  await page.getByLabel('危险化学品', { exact: true }).check();
  await page.waitForFunction((n) => {
    const m = /抽取池：(\d+) 家/.exec(document.querySelector('#pool-size')?.textContent ?? '');
    return m && Number(m[1]) !== n;
  }, oneTown);
  assert.ok(await poolSize(page) < oneTown, 'a category narrows it further');
  await page.getByLabel('危险化学品', { exact: true }).uncheck();

  await page.getByLabel('计划名称').fill('浏览器测试：巴公镇安全生产随机抽查');
  await page.getByLabel('抽查类型').selectOption('directed');
  await page.getByLabel('牵头部门').selectOption({ label: '应急管理综合行政执法大队' });
  await page.getByLabel(/AQ-005/).check();
  await page.getByLabel('抽取方式').selectOption('count');
  await page.getByLabel('抽取数量').fill('3');
  await page.locator('#pool-size', { hasText: '将抽取约 3 家' }).waitFor();
  await shot(page, 'console-plan-draft');
  await page.getByRole('button', { name: '保存草稿' }).click();
  await page.locator('#plan-status', { hasText: '草稿' }).waitFor();
  state.planId = page.url().split('#/plans/')[1];
  assert.match(state.planId, /^[0-9a-f]{24}$/);
  // The coordinator cannot approve: that is the leader's.
  assert.equal(await page.getByRole('button', { name: '批准计划' }).count(), 0);
});

scenario('a coordinator records the bureau\'s share of another agency\'s joint draw (art. 28): the agency named the enterprise', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/plans/new`);
  await page.getByRole('heading', { name: '新建抽查计划' }).waitFor();
  await page.getByLabel('抽查类型').selectOption('external');
  await page.locator('#pool-size', { hasText: '请先查找并选择检查对象' }).waitFor();
  assert.ok(await page.getByLabel('巴公镇', { exact: true }).isHidden(), 'no filter: the other agency named the enterprise');
  assert.ok(await page.getByLabel('抽取数量').isHidden(), 'no sample: one enterprise');
  await page.getByLabel('计划名称').fill('浏览器测试：参与市场监管局联合抽查');
  await page.getByLabel('牵头部门').selectOption({ label: '应急管理综合行政执法大队' });
  await page.getByLabel('发起部门').selectOption('泽州县市场监督管理局');
  await page.getByLabel('联合抽查文号').fill('泽市监联〔2026〕3号');
  await page.getByLabel(/AQ-005/).check();
  await page.getByLabel(/查找检查对象/).fill('浏览器测试机械厂');
  const found = page.locator('option', { hasText: '浏览器测试机械厂' });
  await found.waitFor({ state: 'attached' });
  await page.locator('#pool-size', { hasText: '请先查找并选择检查对象' }).waitFor(); // nothing picked for the clerk
  await page.getByLabel('检查对象', { exact: true }).selectOption(await found.getAttribute('value'));
  await page.locator('#pool-size', { hasText: '检查对象：浏览器测试机械厂' }).waitFor();
  await shot(page, 'console-plan-external');
  await page.getByRole('button', { name: '保存草稿' }).click();
  await page.locator('#plan-status', { hasText: '草稿' }).waitFor();
  await page.getByText('参与其他部门联合抽查（第二十八条）').waitFor();
  await page.locator('#plan-external-enterprise', { hasText: '浏览器测试机械厂' }).waitFor();
  await page.getByText('泽市监联〔2026〕3号').waitFor();
  await shot(page, 'console-plan-external-saved');
  // The draft opens again as it was saved, and saves a corrected reference.
  await page.getByRole('button', { name: '编辑' }).click();
  await page.getByRole('heading', { name: '编辑计划草稿' }).waitFor();
  await page.locator('#pool-size', { hasText: '检查对象：浏览器测试机械厂' }).waitFor();
  assert.equal(await page.getByLabel('抽查类型').inputValue(), 'external');
  assert.equal(await page.getByLabel('发起部门').inputValue(), '泽州县市场监督管理局');
  await page.getByLabel('联合抽查文号').fill('泽市监联〔2026〕4号');
  await page.getByRole('button', { name: '保存草稿' }).click();
  await page.getByText('泽市监联〔2026〕4号').waitFor();
  // As stored: a directed plan of one enterprise, with the agency and its reference.
  const coord = await apiAs(base, 'coordinator', password);
  const saved = await coord.get(`/api/v1/plans/${page.url().split('#/plans/')[1]}`);
  assert.equal(saved.kind, 'directed');
  assert.equal(saved.sample.count, 1);
  assert.deepEqual([saved.external.agency, saved.external.reference], ['泽州县市场监督管理局', '泽市监联〔2026〕4号']);
  assert.deepEqual(saved.joint_department_ids, []);
});

scenario('a leader approves the plan', async (page) => {
  await signIn(page, 'leader');
  await page.goto(`${base}/console/#/plans/${state.planId}`);
  await page.getByRole('button', { name: '批准计划' }).click();
  await page.locator('#plan-status', { hasText: '已批准' }).waitFor();
  // A leader does not draw.
  assert.equal(await page.getByRole('button', { name: '生成并公布种子承诺' }).count(), 0);
});

scenario('the coordinator commits the seed and the commitment is shown large, as published', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/plans/${state.planId}`);
  await page.getByRole('button', { name: '生成并公布种子承诺' }).click();
  const shown = (await page.locator('#commitment').textContent()).trim();
  assert.match(shown, /^[0-9a-f]{64}$/);
  const published = await (await fetch(`${base}/public/v1/plans/${state.planId}`)).json();
  assert.equal(shown, published.seed_commitment, 'the console shows the published commitment');
  state.commitment = shown;
  await page.getByRole('button', { name: '打印公示' }).waitFor();
  await shot(page, 'console-commitment');
});

scenario('the draw is run in the ceremony view and revealed with groups and a QR code', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/ceremony/${state.planId}`);
  await page.getByText(state.commitment).waitFor();
  await page.getByLabel(/公开随机源/).fill('2026001期 福彩3D 5 2 8');
  await page.getByRole('button', { name: '开始抽取' }).click();
  await page.locator('ol.reveal[data-done="true"]').waitFor({ timeout: 60_000 });
  const items = page.locator('ol.reveal li');
  assert.equal(await items.count(), 3, 'three enterprises drawn');
  for (const text of await items.allTextContents()) {
    assert.match(text, /巴公镇/, 'drawn from the filtered town');
    assert.match(text, /检查组：.+、.+/, 'each with a group of two');
  }
  await page.getByText('种子与承诺相符').waitFor();
  const link = await page.locator('#ceremony-qr a').getAttribute('href');
  assert.match(link, /\/draws\/[0-9a-f]{24}-\d+$/);
  assert.equal(await page.locator('#ceremony-qr canvas').count(), 1, 'a QR code is drawn');
  state.drawUrl = link;
  await shot(page, 'console-ceremony');
});

scenario('the coordinator dispatches the draw and sees its tasks with their groups', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/plans/${state.planId}`);
  await page.getByRole('button', { name: '派发检查任务' }).click();
  await page.getByRole('heading', { name: '检查任务' }).waitFor();
  const rows = page.locator('tbody tr', { hasText: '已派发' });
  await rows.nth(2).waitFor();
  assert.equal(await rows.count(), 3, 'one task per drawn enterprise');
  for (const text of await rows.allTextContents()) assert.match(text, /巴公镇.*双随机.*（\d+）、.*（\d+）/);
  await shot(page, 'console-tasks');
});

scenario('the public record page shows the draw without JavaScript', async (page) => {
  await page.goto(state.drawUrl);
  await page.getByRole('heading', { name: /抽取记录/ }).waitFor();
  await page.getByText(state.commitment).waitFor();
  assert.equal(await page.locator('table tbody tr').count() >= 3, true);
}, { javaScriptEnabled: false });

scenario('the public record page re-computes the draw in the browser: 已验证, and the first mismatch of a tampered copy', async (page) => {
  await page.goto(state.drawUrl);
  await page.getByRole('button', { name: '验证此记录' }).click();
  await page.locator('#verdict', { hasText: '已验证' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').getAttribute('class'), /\bok\b/);
  // The candidates' history (draw_ids) was checked against the year's
  // other records this site publishes, and the verdict says so.
  assert.match(await page.locator('#verdict').textContent(), /本年此前被抽取的记录（draw_ids.*核对一致/, 'the history was checked');
  await shot(page, 'portal-verified');

  // A copy with one group member swapped for another inspector.
  const record = await (await fetch(state.drawUrl.replace('/draws/', '/public/v1/draws/'))).json();
  const tampered = structuredClone(record);
  const group = tampered.selections[1].group;
  const other = tampered.roster.find((o) => !group.includes(o.badge_no));
  group[0] = other.badge_no;
  await page.getByLabel('验证一份记录文件').setInputFiles({
    name: 'tampered.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(tampered)),
  });
  await page.locator('#verdict', { hasText: '验证未通过' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').textContent(), /selections\[1\]\.group/, 'the mismatch is named');
  await shot(page, 'portal-tampered');

  // Another seed than the one committed is caught before anything else.
  const reseeded = { ...record, seed: record.seed.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
  await page.getByLabel('验证一份记录文件').setInputFiles({
    name: 'reseeded.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(reseeded)),
  });
  await page.locator('#verdict', { hasText: /seed/ }).waitFor({ timeout: 60_000 });

  // A copy naming a draw that never was in one candidate's history, with
  // its count, covered flag and the pool hash (SPEC §4) made to agree: it
  // holds together in itself; only the year's other records show the lie.
  const sha256 = async (text) => Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))).toString('hex');
  const field = (f) => {
    if (Array.isArray(f)) return `${f.length}:${[...f].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(field).join('')}`;
    return typeof f === 'string' ? `${Buffer.byteLength(f)}:${f}` : String(f);
  };
  const fabricated = structuredClone(record);
  const at = fabricated.candidates.findIndex((c) => c.excluded === '' && c.random_draws === 0);
  assert.ok(at >= 0, 'a pool member no draw has selected yet');
  Object.assign(fabricated.candidates[at], { draw_ids: ['fabricated-draw-1'], random_draws: 1, covered_this_year: true });
  fabricated.pool_sha256 = await sha256(fabricated.candidates.map((c) => `${[c.uscc, c.town, c.industry, c.status, c.categories,
    c.flags, c.non_cooperation, c.random_draws, c.draw_ids, c.covered_this_year, c.excluded].map(field).join(',')}\n`).join(''));
  const drawIds = `candidates[${at}].draw_ids`;
  await page.getByLabel('验证一份记录文件').setInputFiles({
    name: 'fabricated.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(fabricated)),
  });
  await page.locator('#verdict', { hasText: drawIds }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').textContent(), /验证未通过/);
  await shot(page, 'portal-history-tampered');

  // The page's own button, served that copy as the record: caught alike.
  const recordApi = state.drawUrl.replace('/draws/', '/public/v1/draws/');
  await page.route(recordApi, (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(fabricated) }));
  await page.reload();
  await page.getByRole('button', { name: '验证此记录' }).click();
  await page.locator('#verdict', { hasText: drawIds }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').getAttribute('class'), /\bbad\b/);
  await page.unroute(recordApi);

  // When the year's records cannot be read, the record still re-computes,
  // but the verdict is not 已验证: it says the history was not checked.
  await page.route((url) => url.pathname === '/public/v1/plans', (route) => route.fulfill({ status: 503, body: '' }));
  await page.reload();
  await page.getByRole('button', { name: '验证此记录' }).click();
  await page.locator('#verdict', { hasText: '抽取历史未核对' }).waitFor({ timeout: 60_000 });
  const unchecked = await page.locator('#verdict').textContent();
  assert.doesNotMatch(unchecked, /已验证/);
  assert.match(unchecked, /HTTP 503.*draw_ids.*未核对/);
  assert.match(await page.locator('#verdict').getAttribute('class'), /\bpartial\b/);
  await shot(page, 'portal-history-unchecked', page.locator('#verdict'));
});

scenario('the portal lists the approved plan with its commitment, and the year\'s items', async (page) => {
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: '浏览器测试：巴公镇安全生产随机抽查' }).click();
  await page.getByText(state.commitment).waitFor();
  await page.getByRole('link', { name: '查看抽取记录并验证' }).waitFor();
  await shot(page, 'portal-plan');
  await page.getByRole('link', { name: '抽查事项清单' }).first().click();
  await page.getByText('AQ-005').waitFor();
  await shot(page, 'portal-items');
}, { javaScriptEnabled: false });

// A plan of its own, drawn once over the API. The admin (who holds every
// role) approves the redraw and is then not offered its commitment; the
// coordinator commits it and runs the second attempt in the ceremony.
scenario('a redraw takes two people: a leader approves it with a published reason, another commits and draws it', async (page) => {
  const coord = await apiAs(base, 'coordinator', password);
  const src = await coord.get(`/api/v1/plans/${state.planId}`);
  const plan = await coord.post('/api/v1/plans', {
    year: src.year, title: '浏览器测试：重新抽取', kind: src.kind, item_ids: src.item_ids, lead_department_id: src.lead_department_id,
    joint_department_ids: src.joint_department_ids, filter: src.filter, sample: { count: 1 }, group_size: src.group_size, window: src.window,
  });
  await (await apiAs(base, 'leader', password)).post(`/api/v1/plans/${plan.id}/approve`);
  await coord.post(`/api/v1/plans/${plan.id}/commit`, {});
  const first = await coord.post(`/api/v1/plans/${plan.id}/draws`, {});
  assert.equal(first.outcome, 'drawn');

  await signIn(page, 'admin', adminPassword);
  await page.goto(`${base}/console/#/plans/${plan.id}`);
  await page.locator('#plan-status', { hasText: '已抽取' }).waitFor();
  const approve = page.getByRole('button', { name: '批准重新抽取' });
  await approve.click();
  await page.locator('p.error[role="status"]', { hasText: /请检查：.*原因（.*reason/ }).waitFor(); // no reason, nothing approved
  const reason = '原检查组成员与抽中企业存在利害关系';
  await page.locator('#redraw-reason').fill(reason);
  await approve.click();
  await page.locator('#redraw-approval', { hasText: `第 2 次抽取` }).waitFor();
  await page.locator('#redraw-approval', { hasText: '您是批准人' }).waitFor();
  assert.equal(await page.getByRole('button', { name: '生成并公布种子承诺' }).count(), 0, 'the approver is not offered the commitment');
  await shot(page, 'console-redraw-approved');

  const other = await page.context().browser().newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } });
  try {
    const cp = await other.newPage();
    await signIn(cp, 'coordinator');
    await cp.goto(`${base}/console/#/plans/${plan.id}`);
    await cp.locator('#redraw-approval', { hasText: reason }).waitFor();
    assert.equal(await cp.locator('#redraw-approval', { hasText: '您是批准人' }).count(), 0);
    await cp.getByRole('button', { name: '生成并公布种子承诺' }).click();
    const commitment = (await cp.locator('#commitment').textContent()).trim();
    await cp.getByRole('button', { name: '进入抽取现场（全屏）' }).click();
    await cp.locator('#ceremony-attempt', { hasText: `第 2 次抽取 · 重新抽取原因：${reason}` }).waitFor();
    await cp.getByText(commitment).waitFor();
    assert.equal(await cp.locator('ol.reveal').count(), 0, 'the first attempt is not shown as this one');
    await cp.getByLabel(/公开随机源/).fill('2026002期 福彩3D 1 4 7');
    await cp.getByRole('button', { name: '开始抽取' }).click();
    const status = cp.locator('#ceremony p[role="status"]');
    await cp.locator('ol.reveal[data-done="true"]').or(status.filter({ hasText: /出错|未成功/ })).waitFor({ timeout: 60_000 });
    assert.doesNotMatch(await status.textContent(), /出错|未成功/, 'the draw ran');
    await cp.getByText('种子与承诺相符').waitFor();
    await shot(cp, 'console-redraw-ceremony');
    // Opened again, the ceremony shows the attempt drawn, with its reason.
    await cp.reload();
    await cp.locator('ol.reveal[data-done="true"]').waitFor({ timeout: 60_000 });
    await cp.locator('#ceremony-attempt', { hasText: `第 2 次抽取 · 重新抽取原因：${reason}` }).waitFor();
    await cp.getByRole('button', { name: '退出现场' }).click();
    const draws = cp.locator('#plan-draws li');
    await draws.nth(1).waitFor();
    assert.match(await draws.nth(0).textContent(), /第 1 次.*已被取代/);
    assert.match(await draws.nth(1).textContent(), new RegExp(`第 2 次.*重新抽取原因：${reason}`));
    await shot(cp, 'console-redraw-draws', draws.nth(1));
  } finally {
    await other.close();
  }
  const pub = await (await fetch(`${base}/public/v1/plans/${plan.id}/draws`)).json();
  assert.equal(pub.draws.at(-1).reason, reason, 'the reason is published with the attempt');
});

scenario('the items list names each item\'s method, and the editor offers the three methods the rules know', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/items`);
  const row = page.getByRole('row', { name: /AQ-005/ });
  await row.waitFor();
  // The export is the year's whole list (what an import takes back), and says so.
  await page.getByRole('button', { name: '导出 Excel（所选年度全部事项）' }).waitFor();
  assert.match(await row.textContent(), /现场检查|书面检查|网络（远程）监测/, 'the method by name');
  assert.doesNotMatch(await row.textContent(), /on_site|document_review|remote_monitoring/, 'not its code');
  await row.getByRole('button', { name: '编辑' }).click();
  const method = page.getByRole('dialog', { name: /AQ-005/ }).getByLabel('检查方式');
  await method.waitFor();
  await shot(page, 'console-item-method', method);
  assert.deepEqual(await method.locator('option').allTextContents(), ['现场检查', '书面检查', '网络（远程）监测']);
  assert.match(await row.textContent(), new RegExp(await method.locator('option:checked').textContent()), 'the item\'s own method is chosen');
});

scenario('the roster flags certificates about to expire and expired ones', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/inspectors`);
  await page.getByRole('heading', { name: '执法人员名录库' }).waitFor();
  await page.getByText('执法证即将到期').first().waitFor();
  await page.getByText(/30 天内到期的执法证/).waitFor();
  await page.getByRole('button', { name: '导出 Excel（全部人员）' }).waitFor(); // the export is the whole roster, and says so
  await shot(page, 'console-inspectors');
  await page.getByLabel('所属部门').selectOption({ label: '应急管理综合行政执法大队' });
  await page.getByText('执法证已过期').first().waitFor();
});

scenario('statistics show coverage and random share, and the audit chain verifies', async (page) => {
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/stats`);
  await page.locator('#coverage-figure').waitFor();
  assert.match(await page.locator('#coverage-figure').textContent(), /已覆盖 \d+ \/ \d+/);
  assert.ok(await page.locator('canvas').count() >= 2, 'charts are drawn');
  await shot(page, 'console-stats');
  await page.goto(`${base}/console/#/audit`);
  await page.locator('#audit-chain', { hasText: '链条完整' }).waitFor();
  assert.ok(await page.locator('tbody tr').count() > 0);
});

registerPhoneScenarios({ scenario, base, password, shot, state });

// After the phone's on-site scenarios: the coordinator opens the task they
// completed from the task list, sees the group's progress, approves the
// result, records the feedback's delivery (a refusal shown first) and
// publishes it; the archived documents appear with working links.
scenario('a coordinator reviews, records the feedback of and publishes the completed task on its detail view', async (page) => {
  const x = state.siteTask;
  assert.ok(x, 'the phone scenarios completed a task');
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/tasks`);
  await page.getByLabel('状态', { exact: true }).selectOption('completed');
  await page.locator(`tbody a[href="#/tasks/${encodeURIComponent(x.id)}"]`).click();
  await page.getByRole('heading', { name: x.enterprise.name }).waitFor();
  await page.locator('#task-state', { hasText: '已完成' }).waitFor();
  const group = page.locator('#task-group tbody tr');
  assert.equal(await group.count(), x.members.length, 'every member is listed');
  // The phone's user checked in on site; the partner co-signed over the
  // API without checking in; both submitted.
  for (const m of x.members) {
    const row = group.filter({ hasText: m.badge_no });
    const [checkedIn, submitted] = (await row.locator('td').allTextContents()).slice(3);
    assert.match(checkedIn, m.user_id === state.phoneUserId ? /^是/ : /^否/, `${m.badge_no} checked in or not`);
    assert.equal(submitted, '是', `${m.badge_no} submitted`);
  }
  assert.equal(await page.locator('#task-checklist tbody tr').count(), x.items.filter((it) => it.applicable).length, 'every item has its row');
  const findings = await page.locator('#task-findings li').count();
  await page.locator('#task-feedback-due', { hasText: /\d{4}-\d{2}-\d{2}/ }).waitFor();

  // Before approving: the office attaches the fire brigade's report of
  // the same visit (art. 20), marked with its source; the browser hashes
  // it, MinIO takes the bytes, the server checks them.
  await page.locator('#attach-kind').selectOption('external_report');
  await page.locator('#attach-source').fill('泽州县消防救援大队');
  await page.locator('#attach-description').fill('同日消防检查意见');
  await page.locator('#attach-file').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf('Fire safety inspection opinion') });
  await page.getByRole('button', { name: '上传', exact: true }).click();
  const report = page.locator('#task-evidence li', { hasText: '泽州县消防救援大队' });
  await report.getByText('已校验').waitFor();
  await report.getByText('其他部门或专家报告').waitFor();

  await page.locator('#review-result').selectOption('problems_found_rectification_ordered');
  await page.getByRole('button', { name: '审核通过', exact: true }).click();
  await page.locator('#task-state', { hasText: '已审核' }).waitFor();
  await page.locator('#task-result', { hasText: '发现问题，责令整改' }).waitFor();
  assert.equal(await page.getByRole('button', { name: '审核通过', exact: true }).count(), 0, 'a reviewed task is not reviewed again');
  // The rectification order is made when findings were recorded (the
  // on-site scenario records one).
  for (const name of ['现场检查记录', ...(findings ? ['责令限期整改指令书'] : [])]) {
    const link = page.locator('#task-documents a', { hasText: name });
    await link.waitFor();
    const res = await page.request.get(await link.getAttribute('href'));
    assert.equal(res.status(), 200, `${name} downloads`);
    assert.equal((await res.body()).subarray(0, 4).toString(), '%PDF', `${name} is a PDF`);
  }

  // The API's refusal is shown in the page: postal delivery needs its
  // receiver and tracking number.
  await page.locator('#feedback-method').selectOption('postal');
  await page.getByRole('button', { name: '记录送达' }).click();
  await page.locator('p.error[role="status"]', { hasText: /请检查：.*邮寄单号（.*tracking_no/ }).waitFor();
  await page.locator('#feedback-receiver').fill('王建国');
  await page.locator('#feedback-tracking').fill('EMS1234567890');
  await page.getByRole('button', { name: '记录送达' }).click();
  await page.locator('#task-feedback', { hasText: '邮寄送达' }).waitFor();
  assert.equal(await page.locator('#feedback-method').count(), 0, 'feedback is recorded once');

  await page.getByRole('button', { name: '公开', exact: true }).click();
  await page.locator('#task-state', { hasText: '已公示' }).waitFor();
  await page.locator('#task-history', { hasText: '已公示（第 1 版）' }).waitFor();
  assert.equal(await page.getByRole('button', { name: '公开', exact: true }).count(), 0, 'published once');
  await shot(page, 'console-task');
});

// The published result on the portal.
scenario('a citizen finds a published result by enterprise name on the portal and sees no contact data', async (page) => {
  const x = state.siteTask;
  assert.ok(x, 'the phone scenarios completed a task');
  const coord = await apiAs(base, 'coordinator', password);

  // What must never show: the enterprise's contacts, every inspector's
  // name, badge and phone.
  const enterprise = await coord.get(`/api/v1/enterprises/${x.enterprise.id}`);
  const roster = (await coord.get('/api/v1/inspectors?limit=200')).inspectors;
  const secrets = [enterprise.legal_representative, enterprise.safety_manager, enterprise.phone,
    ...roster.flatMap((o) => [o.name, o.badge_no, o.phone]), ...x.members.map((m) => m.name)].filter(Boolean);
  assert.ok(secrets.length > 40 && enterprise.phone, 'there is contact data to leak');

  await page.goto(`${base}/`);
  await page.getByRole('link', { name: '检查结果公示' }).click();
  const name = x.enterprise.name;
  await page.getByLabel('企业名称或统一社会信用代码').fill(name.slice(0, Math.min(4, name.length)));
  await page.getByRole('button', { name: '查询' }).click();
  const card = page.locator('ul.results li.card', { hasText: name });
  await card.waitFor();
  await card.getByText('发现问题，责令整改').waitFor();
  await card.getByText(x.enterprise.uscc).waitFor();
  for (const it of x.items) await card.getByText(`${it.code} ${it.name}`).waitFor();
  await shot(page, 'portal-results');

  const html = await page.content();
  for (const secret of secrets) assert.ok(!html.includes(secret), `the page shows ${secret}`);
  // No phone number either (the USCCs, which are public, taken out first).
  const text = (await page.locator('body').innerText()).replace(/[0-9A-Z]{18}/g, '');
  assert.doesNotMatch(text, /1[3-9]\d{9}|0\d{2,3}-?\d{7,8}/, 'no phone number on the page');

  // The result's own page, to link to: the same record, nothing private.
  await card.getByRole('link', { name }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
  await page.getByText('发现问题，责令整改').waitFor();
  assert.equal(new URL(page.url()).pathname, `/results/${x.id}`);
  const own = await page.content();
  for (const secret of secrets) assert.ok(!own.includes(secret), `the result's page shows ${secret}`);
  await shot(page, 'portal-result');
}, { javaScriptEnabled: false });

// After the portal has shown the result as published: the office looks
// at the group's evidence, records what followed the check (art. 25) and
// corrects the public result with its reason; each is a new public version.
scenario('the office looks at the evidence, records a case opened and corrects the published result', async (page) => {
  const x = state.siteTask;
  assert.ok(x, 'the phone scenarios completed a task');
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/tasks/${encodeURIComponent(x.id)}`);
  await page.locator('#task-state', { hasText: '已公示' }).waitFor();

  // The non-cooperation the phone recorded on site, the one it added as an
  // amendment (with its reason), and a signature shown in the page.
  await page.locator('#task-noncoop li', { hasText: '企业负责人以停产为由拖延' }).getByText('其他阻碍检查的行为').waitFor();
  await page.locator('#task-noncoop li', { hasText: '复核时企业拒绝提供整改台账' }).getByText('拒绝提供有关资料').waitFor();
  const signature = page.locator('#task-evidence li', { hasText: '签名' }).first();
  await signature.getByText('已校验').waitFor();
  await signature.getByRole('button', { name: '查看' }).click();
  const img = signature.locator('img.evidence-image');
  await img.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  assert.match(await signature.getByRole('link').getAttribute('href'), /X-Amz-Signature=/, 'a short-lived signed link');
  assert.equal(await page.locator('#attach-file').count(), 0, 'a published task takes no evidence');
  await shot(page, 'console-task-evidence', signature);

  // A case opened needs its number: refused, then recorded.
  await page.locator('#disposition-kind').selectOption('case_opened');
  await page.locator('#disposition-date').fill(new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10));
  await page.locator('#disposition-document').fill('泽应急立〔2026〕12号');
  await page.getByRole('button', { name: '记录处置' }).click();
  await page.locator('p.error[role="status"]', { hasText: /请检查：.*案号（.*case_no/ }).waitFor();
  await page.locator('#disposition-case').fill('泽应急罚〔2026〕12号');
  await page.getByRole('button', { name: '记录处置' }).click();
  await page.locator('#task-history li.disposition', { hasText: '立案查处：案号 泽应急罚〔2026〕12号' }).waitFor();
  await page.locator('#task-history', { hasText: '已公示（第 2 版）（记录处置结果：立案查处）' }).waitFor();

  // A correction of the result, with its reason.
  await page.locator('#correction-result').selectOption('case_opened');
  await page.locator('#correction-reason').fill('经集体讨论，决定立案查处');
  await page.getByRole('button', { name: '公示更正' }).click();
  await page.locator('#task-history', { hasText: '已公示（第 3 版）（经集体讨论，决定立案查处）' }).waitFor();
  await page.locator('#task-result', { hasText: '立案查处' }).waitFor();
  await shot(page, 'console-task-corrected', page.locator('#task-history'));

  const pub = await (await fetch(`${base}/public/v1/results/${encodeURIComponent(x.id)}`)).json();
  assert.equal(pub.result, 'case_opened');
  assert.equal(pub.version, 3);
  assert.deepEqual(pub.dispositions.map((d) => [d.kind, d.case_no]), [['case_opened', '泽应急罚〔2026〕12号']]);
  assert.ok(pub.corrections.some((c) => c.reason === '经集体讨论，决定立案查处'), 'the correction is public with its reason');

  // The result's page on the portal says what was corrected, and why.
  await page.goto(`${base}/results/${encodeURIComponent(x.id)}`);
  const corrections = page.locator('#corrections');
  await corrections.getByText('经集体讨论，决定立案查处').waitFor();
  await corrections.getByText(/第 1 版 · 公示于/).waitFor();
  await page.locator('dl.facts').first().getByText('立案查处', { exact: true }).waitFor();
  await shot(page, 'portal-result-corrected', corrections);
});

// A member of a drawn group is replaced (回避) on a task of the drawn plan
// that no phone scenario uses: the coordinator asks with a reason, a
// leader approves it on the same page, the coordinator draws who comes in.
scenario('a member of a drawn group is replaced: the office asks with a reason, a leader approves, the draw picks who comes in', async (page) => {
  const coord = await apiAs(base, 'coordinator', password);
  const phoneUser = (await apiAs(base, 'inspector01', password)).user.id;
  const { tasks } = await coord.get(`/api/v1/tasks?plan_id=${state.planId}&limit=10`);
  const x = tasks.find((k) => k.state === 'assigned' && !k.members.some((m) => m.user_id === phoneUser));
  assert.ok(x, 'a task of the drawn plan that no phone scenario uses');
  const out = x.members.find((m) => !m.lead) ?? x.members[1];
  await signIn(page, 'coordinator');
  await page.goto(`${base}/console/#/tasks/${encodeURIComponent(x.id)}`);
  await page.locator('#repl-member').selectOption(out.badge_no);
  await page.getByRole('button', { name: '申请替换' }).click();
  await page.locator('p.error[role="status"]', { hasText: /请检查：.*原因（.*reason/ }).waitFor(); // no reason, nothing committed
  const reason = '回避：与企业负责人系亲属';
  await page.locator('#repl-reason').fill(reason);
  await page.getByRole('button', { name: '申请替换' }).click();
  const item = page.locator('#task-replacements li', { hasText: reason });
  await item.getByText('待领导审批').waitFor();
  assert.equal(await item.getByRole('button', { name: '随机抽取替换人员' }).count(), 0, 'nothing to draw before a leader approves');
  assert.equal(await item.getByRole('button', { name: '批准替换' }).count(), 0, 'the coordinator does not approve');

  const other = await page.context().browser().newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } });
  try {
    const lp = await other.newPage();
    // The leader is told in the console's inbox, and goes from there.
    await signIn(lp, 'leader');
    await lp.getByRole('link', { name: '通知', exact: true }).click();
    const note = lp.locator('#inbox li', { hasText: '检查组成员替换待审批' }).filter({ hasText: reason }).first();
    await note.getByText('未读').waitFor();
    await shot(lp, 'console-inbox');
    await note.getByRole('link', { name: '查看任务' }).click();
    await lp.getByRole('heading', { name: x.enterprise.name }).waitFor();
    const pending = lp.locator('#task-replacements li', { hasText: reason });
    // Who may come in, for the leader deciding: the eligible, by badge.
    await pending.locator('.repl-eligible', { hasText: /^可能抽中的人员：\d/ }).waitFor();
    await pending.getByRole('button', { name: '批准替换' }).click();
    await pending.getByText('已批准，待随机抽取').waitFor();
    assert.equal(await lp.getByRole('button', { name: '随机抽取替换人员' }).count(), 0, 'the leader does not draw');
    await shot(lp, 'console-replacement-approved', pending);
    await lp.getByRole('link', { name: '通知', exact: true }).click();
    await lp.locator('#inbox li', { hasText: reason }).first().waitFor();
    assert.equal(await lp.locator('#inbox li', { hasText: reason }).first().getByText('未读').count(), 0, 'opened, it is read');
  } finally {
    await other.close();
  }

  await page.reload();
  await item.getByRole('button', { name: '随机抽取替换人员' }).click();
  await item.getByText(/已随机抽取：/).waitFor();
  await page.locator('#task-group tbody tr', { hasText: out.badge_no }).getByText(`已调整出组：${reason}`).waitFor();
  const after = await coord.get(`/api/v1/tasks/${x.id}`);
  assert.ok(!after.members.some((m) => m.badge_no === out.badge_no), 'the member went out');
  assert.equal(after.members.length, x.members.length, 'someone came in');
  const drawn = (await coord.get(`/api/v1/tasks/${x.id}/replacements`)).replacements[0];
  assert.ok(after.members.some((m) => m.badge_no === drawn.record.in), 'the one drawn is in the group');
  await shot(page, 'console-replacement-drawn', page.locator('#task-replacements'));
  state.replacement = { id: drawn.id, drawId: drawn.draw_id, in: drawn.record.in, reason };

  // An approved replacement not yet drawn is withdrawn by a leader's
  // rejection (one that could no longer be drawn would block the task).
  const second = await coord.post(`/api/v1/tasks/${x.id}/replacements`, { badge_no: after.members[0].badge_no, reason: '病假' });
  await (await apiAs(base, 'leader', password)).post(`/api/v1/tasks/${x.id}/replacements/${second.id}/approval`, { decision: 'approve' });
  const again = await page.context().browser().newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 } });
  try {
    const lp = await again.newPage();
    await signIn(lp, 'admin', adminPassword); // a leader (by role) who did not commit it
    await lp.goto(`${base}/console/#/tasks/${encodeURIComponent(x.id)}`);
    const approved = lp.locator('#task-replacements li', { hasText: '病假' });
    await approved.getByText('已批准，待随机抽取').waitFor();
    assert.equal(await approved.getByRole('button', { name: '批准替换' }).count(), 0, 'approved once');
    await approved.getByLabel('不予批准的理由').fill('当事人已康复');
    await approved.getByRole('button', { name: '撤回批准，不予替换' }).click();
    await lp.locator('#task-replacements li', { hasText: '病假' }).getByText('未获批准：当事人已康复').waitFor();
  } finally {
    await again.close();
  }
});

scenario('a citizen sees the group replacements on the draw\'s public page and re-computes the draw with them, then one alone', async (page) => {
  const r = state.replacement;
  assert.ok(r, 'the replacement scenario ran first');
  await page.goto(`${base}/draws/${r.drawId}`);
  const row = page.locator('#replacements tbody tr', { hasText: r.reason });
  await row.getByText('已抽取').waitFor();
  await row.getByRole('cell', { name: r.in, exact: true }).waitFor();
  await page.locator('#replacements tbody tr', { hasText: '病假' }).getByText('已驳回，不再抽取').waitFor();
  await page.getByRole('button', { name: '验证此记录' }).click();
  await page.locator('#verdict', { hasText: '已验证' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').textContent(), /1 次检查组人员更换/, 'the replacement was re-computed with the draw');
  await shot(page, 'portal-draw-replacements', page.locator('#replacements'));

  await row.getByRole('link', { name: '详情与验证' }).click();
  await page.getByRole('heading', { name: /检查组人员更换/ }).waitFor();
  await page.locator('#replacement-in', { hasText: r.in }).waitFor();
  await page.getByRole('button', { name: '验证此记录' }).click();
  await page.locator('#verdict', { hasText: '已验证' }).waitFor({ timeout: 60_000 });
  await shot(page, 'portal-replacement-verified');

  // A copy naming someone else as the one who came in names the field.
  const record = await (await fetch(`${base}/public/v1/replacements/${r.id}`)).json();
  const other = record.roster.find((o) => o.badge_no !== record.in && !record.group_before.includes(o.badge_no));
  await page.goto(`${base}/verify`);
  await page.getByLabel('验证一份记录文件').setInputFiles({
    name: 'replacement.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ ...record, in: other.badge_no })),
  });
  await page.locator('#verdict', { hasText: '验证未通过' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').textContent(), /^验证未通过：in — /, 'the mismatch is named');
  await page.getByLabel('验证一份记录文件').setInputFiles({
    name: 'replacement.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(record)),
  });
  // A file is consistent in itself; whether it is the one published is its
  // commitment's to say, which the verdict names for the citizen to compare.
  await page.locator('#verdict', { hasText: '已验证' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#verdict').textContent(), new RegExp(`内部一致.*${record.seed_commitment}`));
});

// The office cancels a drawn unit's inspection before it began: the
// draw's public page says so, with when and why — and not who.
scenario('a citizen sees on the draw\'s public page a drawn inspection the office cancelled, with why', async (page) => {
  const r = state.replacement;
  assert.ok(r, 'the replacement scenario ran first');
  const coord = await apiAs(base, 'coordinator', password);
  const d = await coord.get(`/api/v1/draws/${r.drawId}`);
  const { tasks } = await coord.get(`/api/v1/tasks?plan_id=${encodeURIComponent(d.plan_id)}&limit=200`);
  const x = tasks.find((t) => t.draw_id === r.drawId && t.state === 'assigned');
  assert.ok(x, 'a drawn task not begun');
  const reason = '浏览器测试：企业已停产注销';
  await coord.post(`/api/v1/tasks/${x.id}/cancel`, { version: x.version, reason });
  await page.goto(`${base}/draws/${r.drawId}`);
  const row = page.locator('#cancelled tbody tr', { hasText: x.enterprise.uscc });
  await row.getByText(reason).waitFor();
  await row.getByText(x.enterprise.name).waitFor();
  await page.getByRole('link', { name: /其中 1 家企业的检查已取消/ }).waitFor();
  assert.equal(await page.locator('#cancelled').getByText('coordinator').count(), 0, 'who cancelled is not shown');
  await shot(page, 'portal-draw-cancelled', page.locator('#cancelled'));
});

// pdf is a small, well-formed PDF whose one page says text (ASCII): the
// server's check needs a file that is what it says it is.
function pdf(text) {
  const body = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${body.length} >>\nstream\n${body}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((o, i) => { offsets.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((n) => `${String(n).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const only = process.env.SUIJI_WEB_ONLY ? new RegExp(process.env.SUIJI_WEB_ONLY) : null;
let passed = 0;
let failed = 0;
for (const s of scenarios.filter((x) => !only || only.test(x.name))) {
  const context = await browser.newContext({
    locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 900 }, ...s.options,
  });
  // Generous: in CI the server runs under the race detector beside three
  // other test packages on two cores, and a page's first API calls can
  // take many seconds there.
  context.setDefaultTimeout(45_000);
  const page = await context.newPage();
  const problems = [];
  // Errors the page did not expect; a refused request (an import's 400)
  // is part of a scenario and asserted there.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const started = Date.now();
  try {
    await s.fn(page, context);
    assert.deepEqual(problems, [], 'no errors in the browser console (CSP violations show here)');
    passed++;
    console.log(`ok    ${s.name} (${Date.now() - started} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${s.name}\n      ${String(err.stack ?? err).split('\n').join('\n      ')}`);
    for (const p of problems) console.log(`      ${p}`);
    if (shots) await page.screenshot({ path: join(shots, `FAILED-${scenarios.indexOf(s)}.png`) }).catch(() => {});
  }
  await context.close();
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

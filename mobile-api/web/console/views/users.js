// 用户与角色 (admins): the accounts that sign in, with their roles and
// department — search, add one with a first password, change roles or
// department, disable an account (its sessions end at once) or set a new
// password. Who holds which role decides what each console page and API
// route allows; every change is audited.
import { h, field } from '../../shared/dom.js';
import { t } from '../strings.js';
import { pagedTable, searchBox, select, dialogBox, message, errorText } from '../widgets.js';

const ROLES = ['admin', 'coordinator', 'staff', 'leader', 'inspector'];

export async function render({ api }) {
  const deps = (await api.get('/api/v1/departments')).departments;
  const depName = (id) => deps.find((d) => d.id === id)?.name ?? (id || '—');
  const depSelect = (selected) => h('select', {}, h('option', { value: '', text: '—' }),
    deps.map((d) => h('option', { value: d.id, text: d.name, selected: d.id === selected })));
  const roleBoxes = (held) => ROLES.map((r) => h('input', { type: 'checkbox', value: r, checked: held.includes(r), dataset: { label: t(`role.${r}`) } }));
  const labelled = (c) => h('label', {}, c, c.dataset.label);
  const checked = (boxes) => boxes.filter((c) => c.checked).map((c) => c.value);

  const table = pagedTable({
    api, path: '/api/v1/users', key: 'users',
    filters: [
      searchBox('q', t('common.search'), t('users.searchHint')),
      select('role', t('users.roles'), ROLES.map((r) => [r, t(`role.${r}`)])),
      select('department_id', t('field.department'), deps.map((d) => [d.id, d.name])),
    ],
    columns: [
      { label: t('users.username'), cell: (u) => h('code', { text: u.username }) },
      { label: t('users.displayName'), cell: (u) => u.display_name },
      { label: t('users.roles'), cell: (u) => ROLES.filter((r) => u.roles.includes(r)).map((r) => t(`role.${r}`)).join('、') },
      { label: t('field.department'), cell: (u) => depName(u.department_id) },
      { label: t('field.status'), cell: (u) => (u.disabled ? h('span', { class: 'badge bad', text: t('users.disabled') }) : t('users.enabled')) },
      { label: t('common.actions'), cell: (u) => h('button', { type: 'button', class: 'secondary', text: t('common.edit'), onclick: () => edit(u) }) },
    ],
    actions: [h('button', { type: 'button', text: t('users.new'), onclick: () => create() })],
  });

  function create() {
    const f = {
      username: h('input', { maxlength: 64, autocomplete: 'off' }),
      display_name: h('input', { maxlength: 100 }),
      password: h('input', { type: 'password', autocomplete: 'new-password' }),
    };
    const dep = depSelect('');
    const roles = roleBoxes([]);
    const msg = message();
    const dialog = dialogBox(t('users.new'),
      h('div', { class: 'grid2' }, field(t('users.username'), f.username), field(t('users.displayName'), f.display_name),
        field(t('users.password'), f.password, t('users.passwordHint')), field(t('field.department'), dep)),
      h('fieldset', {}, h('legend', { text: t('users.roles') }), h('div', { class: 'checks' }, roles.map(labelled))),
      h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: async () => {
        try {
          await api.post('/api/v1/users', {
            username: f.username.value.trim(), display_name: f.display_name.value.trim(), password: f.password.value,
            roles: checked(roles), department_id: dep.value,
          });
          dialog.close();
          table.reload();
        } catch (err) {
          msg.set('error', errorText(err));
        }
      } })), msg);
  }

  function edit(u) {
    // Nobody changes their own roles, department or status (a second
    // admin does), nor sets their own password here (设置 in the header
    // asks for the current one).
    const self = u.id === api.user.id;
    const name = h('input', { value: u.display_name, maxlength: 100 });
    const dep = depSelect(u.department_id);
    const roles = roleBoxes(u.roles);
    const disabled = h('input', { type: 'checkbox', checked: u.disabled });
    const password = h('input', { type: 'password', autocomplete: 'new-password' });
    const msg = message();
    dialogBox(`${u.username} · ${u.display_name}`,
      h('div', { class: 'grid2' }, field(t('users.displayName'), name),
        self ? null : [field(t('field.department'), dep), field(t('users.newPassword'), password, t('users.newPasswordHint'))]),
      self ? h('p', { class: 'note', text: t('users.selfNote') }) : [
        h('fieldset', {}, h('legend', { text: t('users.roles') }), h('div', { class: 'checks' }, roles.map(labelled))),
        h('p', {}, h('label', {}, disabled, ' ', t('users.disable')))],
      h('p', {}, h('button', { type: 'button', text: t('common.save'), onclick: async () => {
        const body = self ? { display_name: name.value.trim() }
          : { display_name: name.value.trim(), department_id: dep.value, roles: checked(roles), disabled: disabled.checked };
        if (!self && password.value) body.password = password.value;
        try {
          Object.assign(u, await api.patch(`/api/v1/users/${u.id}`, body));
          password.value = '';
          msg.set('success', t('common.saved'));
          table.reload();
        } catch (err) {
          msg.set('error', errorText(err));
        }
      } })), msg);
  }

  return h('section', {}, h('h1', { text: t('users.title') }), h('p', { class: 'note', text: t('users.note') }), table.element);
}

// Checks the page makes before a form is sent, so a mistake is shown at its field at
// once (showError marks, describes and focuses it), and the live hint of a new password.
import { t, onLanguage, fieldText } from './i18n.js';
import { verdict, bytes } from './passwords.js';

const usernameRE = /^[a-zA-Z0-9_.-]{3,32}$/;

// passwordField keeps hint (the line under a new-password input) current: the rule while
// the field is empty, then the length in bytes and what is wrong, or that it is fine.
// username tells the name the password must not contain.
export function passwordField(input, hint, username = () => '') {
  hint.id ||= `${input.form.id}-${input.name}-hint`;
  const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  if (!ids.includes(hint.id)) input.setAttribute('aria-describedby', [...ids, hint.id].join(' '));
  const render = () => {
    const pw = input.value;
    if (!pw) {
      hint.textContent = t('passwordHint');
      hint.className = 'hint small muted';
      return;
    }
    const v = verdict(pw, username());
    hint.textContent = `${t('passwordBytes', bytes(pw))} ${t(v || 'pwGood')}`;
    hint.className = `hint small ${v ? 'weak' : 'strong'}`;
  };
  input.addEventListener('input', render);
  input.form.addEventListener('reset', () => setTimeout(render));
  onLanguage(render);
  render();
}

function need(form, name, problems) {
  const el = form.elements[name];
  if (el && !el.value.trim()) problems.push({ field: name, message: t('fieldRequired') });
  return !!el?.value.trim();
}

// checkSignup answers the sign-up form's problems (none: []).
export function checkSignup(form) {
  const p = [];
  const user = form.elements.username.value.trim();
  if (need(form, 'username', p) && !usernameRE.test(user)) p.push({ field: 'username', message: fieldText('username') });
  if (need(form, 'email', p) && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.elements.email.value.trim())) p.push({ field: 'email', message: t('emailInvalid') });
  const v = verdict(form.elements.password.value, user);
  if (v) p.push({ field: 'password', message: t(form.elements.password.value ? v : 'fieldRequired') });
  return p;
}

// checkSignin: both fields filled.
export function checkSignin(form) {
  const p = [];
  need(form, 'username', p);
  if (!form.elements.password.value) p.push({ field: 'password', message: t('fieldRequired') });
  return p;
}

// checkNewPassword: the change-password form.
export function checkNewPassword(form, username = '') {
  const p = [];
  if (!form.elements.current_password.value) p.push({ field: 'current_password', message: t('fieldRequired') });
  const pw = form.elements.new_password.value;
  const v = verdict(pw, username);
  if (v) p.push({ field: 'new_password', message: t(pw ? v : 'fieldRequired') });
  return p;
}

// invalid is an error of the page's own for problems, for showError.
export function invalid(problems) {
  return { message: problems[0].message, fields: problems };
}

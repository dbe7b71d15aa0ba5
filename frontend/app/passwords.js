// The password hint of the sign-up and change-password forms. The server takes any
// password of 8 to 72 bytes (scripts and the seed's examples rely on that); the page's
// forms refuse, in addition, the passwords guessed first: the most common ones, one
// character repeated, digits alone, a run such as "abcdefgh", and the username with a
// little around it.

// The most common passwords of 8 bytes or more in public breach lists (shorter ones are
// refused by length anyway), written out here, lower case.
const common = new Set(`password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword
12345678 123456789 1234567890 0987654321 87654321 11111111 00000000 12121212 11223344
qwertyui qwertyuiop qwerty12 qwerty123 qwerty1234 qwertyu1 1qaz2wsx zaq12wsx 1q2w3e4r 1q2w3e4r5t
q1w2e3r4 q1w2e3r4t5 qazwsxedc asdfghjk asdfghjkl zxcvbnm1 1qazxsw2 qweasdzxc
iloveyou iloveyou1 sunshine sunshine1 princess princess1 football football1 baseball baseball1
basketball superman batman123 starwars whatever trustno1 letmein1 letmein123 welcome1 welcome123
abc12345 abcd1234 a1b2c3d4 aa123456 admin123 administrator changeme changeme1 default1
computer internet michael1 jennifer jordan23 charlie1 danielle jessica1 michelle
liverpool chelsea1 arsenal1 manchester mustang1 shadow12 monkey12 dragon12 master12 freedom1
corvette mercedes ferrari1 pokemon1 minecraft fortnite samsung1 iphone12 google123
secret12 secret123 mypassword yourpassword nopassword password! password2 password01
hello123 helloworld loveyou1 lovelove 987654321 123123123 123321123 147258369 741852963
parol123 parolparol qwertyqwerty йцукенгш йцукенгшщз пароль пароль1 пароль12 пароль123 парольпароль
любовь123 привет123 nanobanana nanobanana1`.split(/\s+/));

// bytes is the length the server counts: UTF-8 bytes.
export function bytes(pw) { return new TextEncoder().encode(pw).length; }

// A run of at least 8 neighbouring characters, up or down ("abcdefgh", "87654321").
function isRun(pw) {
  const c = [...pw.toLowerCase()].map((ch) => ch.codePointAt(0));
  if (c.length < 8) return false;
  const d = c[1] - c[0];
  return Math.abs(d) === 1 && c.every((v, i) => i === 0 || v - c[i - 1] === d);
}

// verdict says what is wrong with pw ('' when nothing is): the key of its sentence in
// i18n.js. username is the name being registered (or the signed-in one).
export function verdict(pw, username = '') {
  const n = bytes(pw);
  if (n < 8) return 'pwTooShort';
  if (n > 72) return 'pwTooLong';
  const low = pw.toLowerCase();
  if (new Set(pw).size === 1) return 'pwOneChar';
  if (isRun(pw)) return 'pwSequence';
  if (common.has(low)) return 'pwCommon';
  if (/^\d+$/.test(pw)) return 'pwDigits';
  // The username with a few characters around it ("ann2024!") is guessed first; a
  // sentence that merely contains it is not.
  const name = username.trim().toLowerCase();
  if (name.length >= 3 && low.includes(name) && bytes(low.split(name).join('')) < 6) return 'pwName';
  return '';
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DICTIONARY, errorKey, LANGS, pickLang, translate } from '../src/i18n-dictionary.ts';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('both languages have exactly the same keys', () => {
  const en = Object.keys(DICTIONARY.en).sort();
  for (const lang of LANGS) assert.deepEqual(Object.keys(DICTIONARY[lang]).sort(), en, `keys of ${lang}`);
});

test('every translation uses the same placeholders and none is empty', () => {
  for (const [key, text] of Object.entries(DICTIONARY.en)) {
    for (const lang of LANGS) {
      const other = DICTIONARY[lang][key as keyof typeof DICTIONARY.en];
      assert.ok(other.trim().length > 0, `${lang}:${key} is empty`);
      assert.deepEqual(placeholders(other), placeholders(text), `${lang}:${key} placeholders`);
    }
  }
});

test('the Chinese dictionary is actually Chinese', () => {
  const han = Object.values(DICTIONARY.zh).filter((s) => /[\u4e00-\u9fff]/.test(s)).length;
  // Ids, units and the name "English" legitimately stay Latin; everything else must be translated.
  assert.ok(han / Object.keys(DICTIONARY.zh).length > 0.9, `only ${han} Chinese strings`);
});

test('the connection indicator says online/在线 when open', () => {
  assert.match(translate('en', 'conn.online'), /online/i);
  assert.match(translate('zh', 'conn.online'), /在线/);
  assert.doesNotMatch(translate('en', 'conn.offline'), /online/i);
  assert.doesNotMatch(translate('zh', 'conn.offline'), /在线/);
});

test('translate fills placeholders and leaves unknown ones visible', () => {
  assert.equal(translate('en', 'devices.summary', { updating: 3, total: 10 }), '3 of 10 devices updating');
  assert.equal(translate('zh', 'devices.summary', { updating: 3, total: 10 }), '10 台设备中 3 台正在上报');
  assert.equal(translate('en', 'device.notFound', {}), 'Device {id} was not found.');
});

test('pickLang: stored choice wins, else any zh-* browser language means Chinese', () => {
  assert.equal(pickLang('en', 'zh-CN'), 'en');
  assert.equal(pickLang(null, 'zh-TW'), 'zh');
  assert.equal(pickLang('fr', 'ZH'), 'zh');
  assert.equal(pickLang(undefined, 'de-DE'), 'en');
  assert.equal(pickLang(null, undefined), 'en');
});

test('errorKey maps known error codes only', () => {
  assert.equal(errorKey('IIP_ERR_AUTH_LOGIN_FAILED'), 'error.IIP_ERR_AUTH_LOGIN_FAILED');
  assert.equal(errorKey('IIP_ERR_SOMETHING_ELSE'), undefined);
});

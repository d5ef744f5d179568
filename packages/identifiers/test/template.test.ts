import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DataTemplate, HandleError, IIP_TEMPLATE, ResponseCode as RC, parseDataTemplate, validateAgainstTemplate } from '@iip/identifiers';
import { ROOT, node, text } from './service-fixture.js';

const PUMP: DataTemplate = {
  id: 'pump-v1',
  name: '离心泵',
  industry: 'machinery',
  version: '1.0',
  items: [
    { name: 'model', index: 2000, type: 'MODEL', required: true, minLength: 2, maxLength: 8 },
    { name: 'flow', index: 2001, type: 'FLOW_M3H', required: false, min: 0.5, max: 500 },
    { name: 'serial', index: 2002, type: 'SERIAL', required: true, pattern: 'SN-[0-9]{4}' },
    { name: 'year', index: 2003, type: 'YEAR', required: false, format: 'integer' },
  ],
};
const good = () => [text(2000, 'MODEL', 'IS80'), text(2001, 'FLOW_M3H', '50'), text(2002, 'SERIAL', 'SN-0001')];

function rule(values: ReturnType<typeof good>): unknown {
  try {
    validateAgainstTemplate(PUMP, values);
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof HandleError);
    assert.equal(e.code, 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');
    assert.equal(e.responseCode, RC.INVALID_VALUE);
    return [e.details.item, e.details.rule];
  }
}

test('each template rule is enforced and named with its item', () => {
  assert.equal(rule(good()), 'ok');
  assert.equal(rule([text(2000, 'MODEL', 'IS80'), text(2002, 'SERIAL', 'SN-0001')]), 'ok', 'optional items may be left out');
  assert.deepEqual(rule([text(2000, 'MODEL', 'IS80')]), ['serial', 'required']);
  assert.deepEqual(rule([...good().slice(1), text(2000, 'MODEL', 'X')]), ['model', 'minLength']);
  assert.deepEqual(rule([...good().slice(1), text(2000, 'MODEL', '泵泵泵泵泵泵泵泵泵')]), ['model', 'maxLength']);
  assert.equal(rule([...good().slice(1), text(2000, 'MODEL', '泵泵泵泵泵泵泵泵')]), 'ok', 'length counts characters, not bytes');
  assert.deepEqual(rule([good()[0] ?? text(0, '', ''), text(2001, 'FLOW_M3H', '900'), text(2002, 'SERIAL', 'SN-0001')]), ['flow', 'max']);
  assert.deepEqual(rule([good()[0] ?? text(0, '', ''), text(2001, 'FLOW_M3H', '0.1'), text(2002, 'SERIAL', 'SN-0001')]), ['flow', 'min']);
  assert.deepEqual(rule([good()[0] ?? text(0, '', ''), text(2001, 'FLOW_M3H', 'fast'), text(2002, 'SERIAL', 'SN-0001')]), ['flow', 'format']);
  assert.deepEqual(rule([...good().slice(0, 2), text(2002, 'SERIAL', 'SN-12345')]), ['serial', 'pattern'], 'the pattern is anchored');
  assert.deepEqual(rule([...good(), text(2003, 'YEAR', '2024.5')]), ['year', 'format']);
  assert.deepEqual(rule([...good().slice(1), text(2000, 'SERIAL', 'IS80')]), ['model', 'type']);
  assert.deepEqual(rule([good()[0] ?? text(0, '', ''), text(2002, 'SERIAL', 'SN-0001'), text(2500, 'FLOW_M3H', '5')]), ['flow', 'index']);
  assert.deepEqual(rule([...good(), text(2999, 'EXTRA', 'x')]), ['2999', 'index']);
  assert.equal(rule([...good(), text(1, 'URL', 'https://x')]), 'ok', 'indexes below 2000 are free');
});

test('template definitions are checked: item index ≥ 2000, unique names and indexes, valid patterns', () => {
  assert.deepEqual(parseDataTemplate(JSON.parse(JSON.stringify(PUMP))), PUMP);
  const broken = (items: unknown[]) => () => parseDataTemplate({ ...PUMP, items });
  assert.throws(broken([{ name: 'a', index: 1999, type: 'T', required: true }]), /index of a must be an integer ≥ 2000/);
  assert.throws(broken([{ name: 'a', index: 2000, type: 'T', required: true }, { name: 'a', index: 2001, type: 'T', required: true }]), /appears twice/);
  assert.throws(broken([{ name: 'a', index: 2000, type: 'T', required: true, pattern: '(' }]), /not a valid regular expression/);
  assert.throws(() => parseDataTemplate({ ...PUMP, id: 'a b' }), /id may use/);
});

test('service: templates are stored, handles registered against one are checked on every write, batches report per item', async (t) => {
  const { service } = await node(t);
  await service.createTemplate(PUMP, ROOT);
  assert.deepEqual((await service.listTemplates()).map((x) => x.id), ['pump-v1']);
  assert.deepEqual(await service.getTemplate('pump-v1'), PUMP);
  await assert.rejects(() => service.createTemplate(PUMP, null), (e: unknown) => e instanceof HandleError && e.responseCode === RC.AUTHENTICATION_NEEDED);
  await service.createWithTemplate('88.118/pump-1', 'pump-v1', good(), ROOT);
  const marker = (await service.resolve('88.118/pump-1', { types: [IIP_TEMPLATE] }, null))[0];
  assert.equal(new TextDecoder().decode(marker?.data), 'pump-v1');
  await assert.rejects(() => service.modifyValues('88.118/pump-1', [text(2001, 'FLOW_M3H', '9999')], ROOT), (e: unknown) => e instanceof HandleError && e.details.rule === 'max');
  await assert.rejects(() => service.removeValues('88.118/pump-1', [2002], ROOT), (e: unknown) => e instanceof HandleError && e.details.rule === 'required');
  await assert.rejects(() => service.createWithTemplate('88.118/pump-x', 'nope', good(), ROOT), (e: unknown) => e instanceof HandleError && e.code === 'IIP_ERR_HANDLE_TEMPLATE_VIOLATION');

  const items = [
    { handle: '88.118/b1', templateId: 'pump-v1', values: good() },
    { handle: '88.118/b2', templateId: 'pump-v1', values: good().slice(0, 1) },
    { handle: '88.118/b3', values: [text(1, 'URL', 'u')] },
  ];
  const perItem = await service.batchRegister(items, ROOT);
  assert.deepEqual(perItem.map((r) => r.ok), [true, false, true]);
  const failed = perItem[1];
  assert.ok(failed && !failed.ok && 'error' in failed && failed.error.details.item === 'serial');
  const atomic = await service.batchRegister(
    [
      { handle: '88.118/c1', values: [text(1, 'URL', 'u')] },
      { handle: '88.118/c2', templateId: 'pump-v1', values: [] },
    ],
    ROOT,
    { atomic: true },
  );
  assert.deepEqual(atomic[0], { handle: '88.118/c1', ok: false, aborted: true, abortedBy: 1 });
  await assert.rejects(() => service.resolve('88.118/c1', {}, null), (e: unknown) => e instanceof HandleError && e.responseCode === RC.HANDLE_NOT_FOUND, 'rolled back');
  assert.ok((await service.batchRegister([{ handle: '88.118/d1', values: [] }], ROOT, { atomic: true })).every((r) => r.ok));
});

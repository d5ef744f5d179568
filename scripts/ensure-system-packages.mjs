// Before `npm test`: the Debian packages the tests talk to (real peers, not mocks). As root it installs the
// missing ones with apt-get; otherwise it prints the exact command and stops, so a test run never fails
// later for a reason that is only a missing package.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const python = (code) => spawnSync('/usr/bin/python3', ['-c', code], { stdio: 'ignore' }).status === 0;

/** [Debian package, is it there?] */
const needs = [
  ['mosquitto-clients', () => existsSync('/usr/bin/mosquitto_pub')],
  ['chromium', () => existsSync('/usr/bin/chromium')],
  // An independent Modbus peer on the system python3; its server imports serial_asyncio (and through it
  // pyserial), only a recommendation of python3-pymodbus, so absent after --no-install-recommends.
  ['python3-pymodbus', () => python('import pymodbus')],
  ['python3-serial-asyncio', () => python('import serial_asyncio')],
  // An MQTT 5 client of its own (paho-mqtt) for the front door's interoperability tests.
  ['python3-paho-mqtt', () => python('import paho.mqtt.client')],
  // Virtual serial ports for Modbus RTU.
  ['socat', () => existsSync('/usr/bin/socat')],
  // The scale-out adapters' peers: the tests start throw-away servers of their own from these binaries
  // (initdb into a temp dir; nats-server -js with a temp store), never the system services.
  ['postgresql', () => postgresBin() !== undefined],
  ['nats-server', () => existsSync('/usr/sbin/nats-server') || existsSync('/usr/bin/nats-server')],
];

/** The newest installed PostgreSQL server's bin directory (Debian keeps them under /usr/lib/postgresql/<major>). */
function postgresBin() {
  try {
    const majors = readdirSync('/usr/lib/postgresql').filter((d) => existsSync(`/usr/lib/postgresql/${d}/bin/initdb`));
    return majors.sort((a, b) => Number(b) - Number(a))[0];
  } catch {
    return undefined;
  }
}

const missing = needs.filter(([, present]) => !present()).map(([name]) => name);
if (missing.length > 0) {
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`The tests need Debian packages that are not installed / 测试需要以下系统软件包: ${missing.join(', ')}`);
    console.error(`Install them as root, then run npm test again:\n  sudo apt-get update && sudo ${command}`);
    process.exit(1);
  }
  console.log(`Installing / 正在安装 ${missing.join(', ')} (apt-get) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) {
      console.error(`apt-get ${args.join(' ')} failed; install them by hand: ${command}`);
      process.exit(r.status ?? 1);
    }
  }
}

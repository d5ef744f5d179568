import { InProcessBus } from '@iip/bus';
import { runBusConformance } from '@iip/testkit';

runBusConformance('in-process', async () => {
  const bus = new InProcessBus({ retryDelayMs: 20, onError: () => undefined });
  return { bus, peer: async () => bus, cleanup: () => bus.close() };
});

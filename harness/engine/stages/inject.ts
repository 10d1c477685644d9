// inject: plan, journal (durable), apply; then, with the test hook, hold while the fault is really in place.
import { sleep } from '../../core/poll.js';
import { HOLD_ENV } from '../hold.js';
import type { Stage } from '../run-state.js';

export const injectStage: Stage = {
  name: 'inject',
  extraSeconds: (st) => st.hold.ms / 1000,
  async run(st, s) {
    // a bad hook value fails here, before anything is planned (the CLI refuses it earlier, exit 2)
    if (st.hold.error) throw st.hold.error;
    const { sc } = st;
    const entry = await st.apply(st.ctx(s), sc.fault.type, sc.fault.params, `${sc.id}-${st.injected.length + 1}`);
    if (st.hold.ms > 0) {
      st.log(`holding ${st.hold.ms}ms after apply (${HOLD_ENV})`);
      await sleep(st.hold.ms, s.signal);
    }
    st.injectEnd = st.clock.now();
    return `${sc.fault.type} applied (journal ${st.journal.file.runId}, entry ${entry.id})`;
  },
};

/** The action of every state (one action per state; table.ts says where each event leads). */
import type { Action } from '../context.js';
import type { State } from '../table.js';
import { checkin } from './checkin.js';
import { commit } from './commit.js';
import { confirm } from './confirm.js';
import { consent } from './consent.js';
import { distribute } from './distribute.js';
import { download } from './download.js';
import { install } from './install.js';
import { report } from './report.js';
import { rollback } from './rollback.js';
import { start } from './start.js';
import { stuck } from './stuck.js';
import { verify } from './verify.js';
import { waitForPreconditions } from './wait.js';

export const ACTIONS: Readonly<Record<State, Action>> = {
  idle: start,
  checkin,
  verify,
  download,
  preconditions: waitForPreconditions,
  consent,
  distribute,
  recheck: waitForPreconditions,
  install,
  confirm,
  commit,
  rollback,
  report,
  stuck,
};

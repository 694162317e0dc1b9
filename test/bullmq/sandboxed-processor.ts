// A sandboxed processor file (BullMQ runs it in a child process of the worker): wrapped inside the file.
import { portkeyProcessor } from 'portkey-context/bullmq';
import { ask } from './ask.js';

export default portkeyProcessor(ask);

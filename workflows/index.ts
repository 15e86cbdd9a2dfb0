// The workflow bundle's entry: every workflow type the worker runs.
export { adminCalendarSync } from './adminCalendarSync';
export { reconcileFleet } from './reconcileFleet';
export { sysaidRead } from './sysaidRead';

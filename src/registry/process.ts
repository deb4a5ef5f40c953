/** True when a process with this pid exists on this host (signal 0 checks without sending anything). */
export function isPidAlive(pid: number): boolean {
  // 0 and negatives address process groups in kill(2), never one recorded process
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EPERM: it exists but belongs to another user; anything else unknown is treated as alive to stay safe
    return code !== 'ESRCH';
  }
}

// Stand-in written for Stepwell's tests (the published function is not copied): the
// ramp-up is over at once.
export const handler = async (event) => ({ timer: { ...event.timer, continue: false }, items: [] });

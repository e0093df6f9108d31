// Stand-in written for Stepwell's tests (the published function is not copied): it
// returns a reference number for the message, as the sample's function does.
exports.handler = async (event) => `REF-${String(event.message).length}`;

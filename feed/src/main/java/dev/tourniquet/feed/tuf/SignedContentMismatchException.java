package dev.tourniquet.feed.tuf;

/**
 * Signatures cannot be merged: the two copies do not sign the same content (their canonical
 * {@code signed} parts differ), so a signature of one says nothing about the other.
 */
public final class SignedContentMismatchException extends PublisherException {
  private static final long serialVersionUID = 1L;

  SignedContentMismatchException(String file, String stagedName, String expectedSha256, String foundSha256) {
    // The usual cause is a copy taken before an add, a rotation or a renewal restaged the metadata: say so
    // and what to do, not only that two hashes differ.
    this(file, stagedName, expectedSha256, foundSha256, "the staged " + stagedName + " changed since this copy was"
        + " taken, or the copy was altered");
  }

  /** With why the content differs, e.g. the copy is of a version published or discarded since it was taken. */
  SignedContentMismatchException(String file, String stagedName, String expectedSha256, String foundSha256,
      String why) {
    super(FeedVerificationException.format("%s: expected the same signed content (sha256 %s) but found sha256 %s; %s:"
        + " copy the staged %s again, sign that copy and merge it", file, expectedSha256, foundSha256, why,
        stagedName));
  }
}

package dev.tourniquet.feed.tuf;

/**
 * Signatures cannot be merged: the two copies do not sign the same content (their canonical
 * {@code signed} parts differ), so a signature of one says nothing about the other.
 */
public final class SignedContentMismatchException extends PublisherException {
  private static final long serialVersionUID = 1L;

  SignedContentMismatchException(String file, String expectedSha256, String foundSha256) {
    super(FeedVerificationException.format("%s: expected the same signed content (sha256 %s) but found sha256 %s",
        file, expectedSha256, foundSha256));
  }
}

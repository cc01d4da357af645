package dev.tourniquet.rules;

/** The status a {@code Redirect} action answers with, as IIS's {@code redirectType}. */
public enum RedirectType {
  /** 301 (IIS's default). */
  PERMANENT("Permanent", 301),
  /** 302. */
  FOUND("Found", 302),
  /** 303. */
  SEE_OTHER("SeeOther", 303),
  /** 307. */
  TEMPORARY("Temporary", 307);

  private final String iisName;
  private final int status;

  RedirectType(String iisName, int status) {
    this.iisName = iisName;
    this.status = status;
  }

  /**
   * Returns the name IIS uses in configuration files.
   *
   * @return for example {@code Permanent}
   */
  public String iisName() {
    return iisName;
  }

  /**
   * Returns the HTTP status code; IIS also accepts it as the attribute's value.
   *
   * @return 301, 302, 303 or 307
   */
  public int status() {
    return status;
  }
}

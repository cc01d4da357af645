package dev.tourniquet.servlet;

import java.nio.file.Path;

/** The filter in embedded Jetty 12 (ee10). */
class JettyEnforcementTest extends ContainerEnforcementTest {
  @Override
  Container start(TourniquetFilter filter, TestApp app, Path workDir, String contextPath) throws Exception {
    return Container.jetty(filter, app, contextPath);
  }
}

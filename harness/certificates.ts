import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** A throwaway CA and a server certificate for 127.0.0.1 it signed, made with openssl. */
export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
  caPem: string;
}

export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => exec("openssl", args, { cwd: dir });
  await openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=test CA",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  await openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
  );
  await writeFile(file("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    file("san.ext"),
    "-out",
    file("server.crt"),
  );
  return {
    ca: file("ca.crt"),
    cert: file("server.crt"),
    key: file("server.key"),
    caPem: await readFile(file("ca.crt"), "utf8"),
  };
}

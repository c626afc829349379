"""Run moto's HTTPS proxy (python -m moto.proxy, in-memory backends) for tools/render, with two
in-process changes; nothing on disk is modified. Arguments are moto.proxy's own.

1. moto's ListStackInstances reports a fresh random StackId that matches no stack, so Copilot's
   lookup of the application's regional resources (ListStackInstances, then DescribeStacks on
   that id) fails. The instance's real stack id is reported instead.
2. moto.proxy writes the certificates it mints into its package folder (read-only or shared
   between runs); they go to $MOTO_PROXY_CERTS, a per-run folder, instead. Its CA certificate,
   which clients must trust, is copied to $MOTO_PROXY_CA_COPY.
"""
import os
import shutil
import sys

from moto.cloudformation import models as cfn_models
from moto.moto_proxy.certificate_creator import CertificateCreator

_to_dict = cfn_models.StackInstance.to_dict


def _stack_instance_to_dict(self):
    d = _to_dict(self)
    d["StackId"] = self.stack.stack_id
    return d


cfn_models.StackInstance.to_dict = _stack_instance_to_dict

certdir = os.environ["MOTO_PROXY_CERTS"].rstrip("/") + "/"
os.makedirs(certdir, exist_ok=True)
shutil.copy(os.path.join(CertificateCreator.certdir, "req.conf.tmpl"), certdir)
CertificateCreator.certdir = certdir
shutil.copy(CertificateCreator.cacert, os.environ["MOTO_PROXY_CA_COPY"])

from moto.proxy import main  # noqa: E402 (after the patches, which must precede the server)

sys.exit(main())
